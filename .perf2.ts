import { readZip, writeZip } from './shared/bundle/zip.ts';
const n = 300 * 1024 * 1024;
const data = new Uint8Array(n);
for (let i = 0; i < n; i++) data[i] = (i * 2654435761) >>> 24;
const s = writeZip([{ name: 's', data, compress: false }]);
for (let k = 0; k < 3; k++) {
let t = performance.now();
readZip(s);
console.log('read stored ms', performance.now() - t);
}
