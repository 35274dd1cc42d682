/*
 * The line discipline's local modes of a terminal, for the recorder: whether
 * the program on a pty has turned echo off (a password prompt) or taken the
 * terminal raw (a line editor, ssh, a full-screen program that echoes itself).
 *
 * Linux and macOS answer tcgetattr() on a pty's master with the slave's
 * termios, so the recorder can ask through the master fd node-pty holds.
 *
 * Node-API only (no V8 or nan), so one build serves every Node version.
 */
#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <node_api.h>

/* Bits of the value modeFlags() returns; index.ts mirrors them. */
#define MODE_ECHO 1
#define MODE_CANONICAL 2

/*
 * modeFlags(fd) -> number: MODE_* bits when fd is a terminal, or -errno when
 * tcgetattr fails (EBADF, ENOTTY, ...). Failures are values, not exceptions:
 * the recorder asks on every keystroke and must never throw there.
 */
static napi_value ModeFlags(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  int32_t fd = -1;
  int32_t flags;
  struct termios attributes;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    flags = -EBADF;
  } else if (tcgetattr(fd, &attributes) != 0) {
    flags = errno > 0 ? -errno : -EIO;
  } else {
    flags = 0;
    if (attributes.c_lflag & ECHO) flags |= MODE_ECHO;
    if (attributes.c_lflag & ICANON) flags |= MODE_CANONICAL;
  }
  if (napi_create_int32(env, flags, &result) != napi_ok) return NULL;
  return result;
}

/*
 * holdMaster(fd) -> number: a duplicate of fd (close-on-exec), or -errno.
 * The recorder asks termios through its own duplicate of node-pty's master:
 * node-pty closes its fd when the program exits, possibly before the exit is
 * reported, and by then the number (and the pty's /dev/pts number) may name
 * another session's pty. A duplicate keeps this pty's number to itself until
 * the recorder closes it.
 */
static napi_value HoldMaster(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  int32_t fd = -1;
  int32_t copy;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    copy = -EBADF;
  } else {
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) copy = errno > 0 ? -errno : -EIO;
  }
  if (napi_create_int32(env, copy, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "modeFlags", NAPI_AUTO_LENGTH, ModeFlags, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "modeFlags", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "holdMaster", NAPI_AUTO_LENGTH, HoldMaster, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "holdMaster", fn) != napi_ok) return NULL;
  return exports;
}
