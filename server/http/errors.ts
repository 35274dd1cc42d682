/**
 * Errors a route throws on purpose, and the one error handler that turns every error (ours,
 * Fastify's, the validator's) into a Problem body (shared/api/problem.ts) with the right status.
 * Unexpected errors are logged with their stack and answered with a plain 500: no internals
 * reach the client.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { Problem } from '../../shared/api/problem.ts';
import { AuthenticationError } from '../auth/access-token.ts';
import { ConflictError } from '../db/database.ts';

const STATUS: Record<Problem['error'], number> = {
  'bad-request': 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  gone: 410,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'too-many-requests': 429,
  unavailable: 503,
  internal: 500,
};

export class HttpError extends Error {
  readonly code: Problem['error'];
  readonly status: number;
  readonly issues: string[] | undefined;

  constructor(code: Problem['error'], message: string, issues?: string[]) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.status = STATUS[code];
    this.issues = issues;
  }
}

export const notFound = (what: string): HttpError => new HttpError('not-found', `${what} does not exist`);
export const forbidden = (why: string): HttpError => new HttpError('forbidden', why);
export const badRequest = (why: string): HttpError => new HttpError('bad-request', why);
export const conflict = (why: string): HttpError => new HttpError('conflict', why);

/** What Fastify's own errors mean to a client. */
function fromFastify(error: FastifyError): HttpError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError('payload-too-large', `the request body is larger than this route accepts (${error.message})`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError('unsupported-media-type', 'this route takes application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError('bad-request', 'the request body is empty; this route takes a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError('bad-request', `the request body is not valid JSON: ${error.message}`);
    default:
      if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
        return new HttpError('bad-request', `the request body is not valid JSON: ${error.message}`);
      }
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return new HttpError(error.statusCode === 413 ? 'payload-too-large' : error.statusCode === 415 ? 'unsupported-media-type' : 'bad-request', error.message);
      }
      return undefined;
  }
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let problem: HttpError;
    if (error instanceof HttpError) {
      problem = error;
    } else if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = error.validation.map((v) => {
        const where = `${error.validationContext ?? 'request'}${v.instancePath.replaceAll('/', '.')}`;
        return `${where}: ${v.message ?? 'is not valid'}`;
      });
      problem = new HttpError('bad-request', `the request is not valid: ${issues.slice(0, 3).join('; ')}`, issues);
    } else if (error instanceof AuthenticationError) {
      problem = new HttpError(error.status === 503 ? 'unavailable' : 'unauthenticated', error.message);
    } else if (error instanceof ConflictError) {
      problem = new HttpError('conflict', 'it already exists');
    } else if (isResponseSerializationError(error)) {
      request.log.error({ err: error }, 'a response did not match its schema');
      problem = new HttpError('internal', 'the service failed to answer; the error is in its log');
    } else {
      const known = fromFastify(error);
      if (known !== undefined) {
        problem = known;
      } else {
        request.log.error({ err: error }, 'unexpected error');
        problem = new HttpError('internal', 'the service failed to answer; the error is in its log');
      }
    }
    if (problem.status === 401) void reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${problem.message.replaceAll('"', "'")}"`);
    const body: Problem = { error: problem.code, message: problem.message, ...(problem.issues === undefined ? {} : { issues: problem.issues }) };
    return reply.status(problem.status).type('application/json').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body: Problem = { error: 'not-found', message: `no route ${request.method} ${request.url.split('?')[0]}` };
    return reply.status(404).send(body);
  });
}
