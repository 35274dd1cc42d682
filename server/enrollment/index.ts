/** Device enrollment and trust: the module, its tables, and what other modules may ask of it. */
export { enrollmentModule } from './routes.ts';
export { ENROLLMENT_MIGRATIONS } from './migrations.ts';
export { certifyDevice, deviceStanding } from './devices.ts';
