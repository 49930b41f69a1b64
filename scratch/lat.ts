import { S3Client, PutObjectCommand, ListObjectsV2Command, CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
const client = new S3Client({ endpoint: 'http://127.0.0.1:17802', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'hubcachetest', secretAccessKey: 'hubcachetestsecret' }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
const b = `lat${Date.now()}`;
await client.send(new CreateBucketCommand({ Bucket: b }));
const buf = Buffer.alloc(16 * 1024 * 1024, 3);
for (let i = 0; i < 4; i++) { const t = Date.now(); await client.send(new PutObjectCommand({ Bucket: b, Key: `p${i}`, Body: buf })); console.log('put16', Date.now() - t); }
for (let i = 0; i < 3; i++) { const t = Date.now(); await client.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'p' })); console.log('list', Date.now() - t); }
for (let i = 0; i < 3; i++) { const t = Date.now(); await client.send(new PutObjectCommand({ Bucket: b, Key: `s${i}`, Body: 'x' })); console.log('putsmall', Date.now() - t); }
{ const t = Date.now(); const g = await client.send(new GetObjectCommand({ Bucket: b, Key: 'p0' })); await g.Body!.transformToByteArray(); console.log('get16', Date.now() - t); }
