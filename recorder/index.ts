/** The recorder: public face for clients (CLI, browser host, Electron main). */
export { RecorderClient, type RecorderClientOptions } from './client.ts';
export { FileKeyStore, type DeviceKey, type KeyStore } from './keystore.ts';
export { nodeSuite } from '../node-adapters/crypto.ts';
export { nodeZipCodec } from '../node-adapters/zip.ts';
export * from './protocol.ts';
export { newSessionId } from './session.ts';
