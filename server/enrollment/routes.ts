/** Device enrollment over HTTP (shared/api/enrollment.ts), and the public trust root. */
import {
  DeviceChallengeSchema,
  DeviceListQuerySchema,
  DeviceListSchema,
  DeviceParamsSchema,
  DeviceSchema,
  EnrollDeviceSchema,
  EnrolledDeviceSchema,
  RevokeDeviceSchema,
} from '../../shared/api/enrollment.ts';
import { TrustRootSchema } from '../../shared/bundle/manifest.ts';
import type { Principal } from '../auth/access-token.ts';
import { forbidden, notFound } from '../http/errors.ts';
import type { ServiceModule } from '../http/context.ts';
import { trustRootOf } from '../keys/service-keys.ts';
import { checkPossession, createChallenge, enrollDevice, findDevice, listDevices, revokeDevice, spendChallenge } from './devices.ts';

/** Auditors see every device; service admins manage every device. */
const seesAll = (who: Principal): boolean => who.roles.has('auditor') || who.roles.has('service-admin');

export const enrollmentModule: ServiceModule = {
  name: 'enrollment',
  register(app, { config, db, keys, now, principalOf, audit }) {
    const settings = config.enrollment;

    app.get(
      '/v1/trust-root',
      { config: { access: 'public' }, schema: { summary: 'The org root and service keys that auditors load (custody verify --trust)', security: [], response: { 200: TrustRootSchema } } },
      async () => trustRootOf(keys, settings.trustRootName),
    );

    app.post(
      '/v1/devices/challenge',
      { config: { access: 'signed-in' }, schema: { summary: 'A single-use nonce for the device key to sign at enrollment', response: { 200: DeviceChallengeSchema } } },
      async (request) => {
        const who = principalOf(request);
        return db.transaction(async (tx) => {
          const challenge = await createChallenge(tx, who.subject, now(), settings.challengeSeconds * 1000);
          await audit(tx, request, 'device.challenge', who.subject);
          return challenge;
        });
      },
    );

    app.post(
      '/v1/devices',
      {
        config: { access: 'signed-in' },
        schema: { summary: 'Enrolls (or renews) a device key; the org root certifies it', body: EnrollDeviceSchema, response: { 200: EnrolledDeviceSchema } },
      },
      async (request) => {
        const who = principalOf(request);
        const body = request.body;
        const publicKey = checkPossession(who.subject, body);
        return db.transaction(async (tx) => {
          const at = now();
          await spendChallenge(tx, body.nonce, who.subject, at);
          const result = await enrollDevice(tx, { publicKey, name: body.name, who, orgRoot: keys.orgRoot, now: at, days: settings.certificateDays });
          await audit(tx, request, result.renewed ? 'device.renew' : 'device.enroll', result.device.id, { name: body.name, notAfter: result.device.notAfter });
          return result;
        });
      },
    );

    app.get(
      '/v1/devices',
      {
        config: { access: 'signed-in' },
        schema: { summary: 'Your devices; with all=true, everyone\'s (auditors and service admins)', querystring: DeviceListQuerySchema, response: { 200: DeviceListSchema } },
      },
      async (request) => {
        const who = principalOf(request);
        if (request.query.all === 'true' && !seesAll(who)) throw forbidden('only auditors and service admins list every device');
        return { devices: await listDevices(db, request.query.all === 'true' ? undefined : who.subject) };
      },
    );

    app.get(
      '/v1/devices/:id',
      { config: { access: 'signed-in' }, schema: { summary: 'One device and its certificate', params: DeviceParamsSchema, response: { 200: DeviceSchema } } },
      async (request) => {
        const who = principalOf(request);
        const device = await findDevice(db, request.params.id);
        // Someone else's device is answered like a missing one.
        if (device === undefined || (device.owner !== who.subject && !seesAll(who))) throw notFound(`device ${request.params.id}`);
        return device;
      },
    );

    app.post(
      '/v1/devices/:id/revoke',
      {
        config: { access: ['admin', 'service-admin'] },
        schema: { summary: 'Revokes a device: admins their own, service admins any', params: DeviceParamsSchema, body: RevokeDeviceSchema, response: { 200: DeviceSchema } },
      },
      async (request) => {
        const who = principalOf(request);
        const id = request.params.id;
        return db.transaction(async (tx) => {
          const device = await findDevice(tx, id);
          const mayRevokeAny = who.roles.has('service-admin');
          if (device === undefined || (device.owner !== who.subject && !mayRevokeAny && !seesAll(who))) throw notFound(`device ${id}`);
          if (device.owner !== who.subject && !mayRevokeAny) throw forbidden('an admin revokes only their own devices; a service admin revokes any');
          const revoked = await revokeDevice(tx, id, who.subject, now());
          await audit(tx, request, 'device.revoke', id, { owner: device.owner, ...(request.body.reason === undefined ? {} : { reason: request.body.reason }) });
          return revoked;
        });
      },
    );
  },
};
