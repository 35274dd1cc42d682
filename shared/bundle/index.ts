/** The `.custody` bundle format: public face. docs/bundle-format.md is its specification. */
export * from './asciicast.ts';
export * from './bytes.ts';
export * from './crypto.ts';
export * from './dsse.ts';
export * from './errors.ts';
export * from './manifest.ts';
export * from './merkle.ts';
export * from './note.ts';
export * from './reader.ts';
export * from './verifier.ts';
export * from './writer.ts';
export * from './zip.ts';
