/**
 * The blob store the configuration names (`blobs` in the service configuration): a directory
 * (by default `<dataDir>/blobs`) or an S3-compatible bucket. S3 credentials come from the AWS
 * SDK's usual chain (environment, shared files, instance role), never from the configuration file.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { blobDirectory, type ServiceConfig } from '../config.ts';
import type { BlobStore } from './blob-store.ts';
import { DirectoryBlobStore } from './directory-store.ts';
import { S3BlobStore } from './s3-store.ts';

export function openBlobStore(config: ServiceConfig): BlobStore {
  const blobs = config.blobs;
  if (blobs.kind === 'directory') return new DirectoryBlobStore(blobDirectory(config));
  const client = new S3Client({
    region: blobs.region,
    forcePathStyle: blobs.forcePathStyle,
    ...(blobs.endpoint === undefined ? {} : { endpoint: blobs.endpoint }),
    // The store sends its own x-amz-checksum-sha256 on every upload; the SDK's default CRC32
    // (and aws-chunked bodies) would add nothing, and S3-compatible servers often refuse them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return new S3BlobStore({ client, bucket: blobs.bucket, objectLock: blobs.objectLock });
}
