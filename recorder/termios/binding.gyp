{
  "targets": [
    {
      "target_name": "custody_termios",
      "sources": ["termios.c"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS=='win'", { "type": "none", "sources!": ["termios.c"] }]
      ]
    }
  ]
}
