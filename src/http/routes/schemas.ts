// An app's conversion-value schema versions: list, add (re-decodes in the background), read, delete.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { addSchema, deleteSchema, getSchema, listSchemas, type SchemaRow } from '../../db/settings.js';
import { ConversionSchema } from '../../model/conversion-schema.js';
import { requireRole } from '../auth.js';
import type { AppEnv, Principal } from '../deps.js';
import { InvalidParameterError, NotFoundError, ScopeError, validationHook } from '../errors.js';
import { anyJson, bearer, Count, errorResponses, jsonBody, noContent, servedTwice, strictJson } from '../openapi.js';

const schemaView = (s: SchemaRow) => ({
  app_id: s.appId,
  version: s.version,
  effective_from: s.effectiveFrom.toISOString(),
  created_at: s.createdAt.toISOString(),
  definition: s.definition,
});

const AppParams = z.object({ appId: Count.openapi({ param: { name: 'appId', in: 'path' }, description: "the app's App Store id (app-id / advertised-item-identifier)" }) });
const VersionParams = AppParams.extend({ version: Count.openapi({ param: { name: 'version', in: 'path' } }) });

function checkApp(principal: Principal, appId: number): void {
  if (principal.appIds && !principal.appIds.includes(appId)) throw new ScopeError(`this key may not read app ${appId}`);
}

export function schemaRoutes(app: OpenAPIHono<AppEnv>): void {
  servedTwice(
    app,
    createRoute({
      method: 'get',
      path: '/v1/apps/{appId}/schemas',
      summary: "An app's conversion-value schema versions",
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      request: { params: AppParams },
      responses: { 200: anyJson('Schema versions, oldest first'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { appId } = c.req.valid('param');
      checkApp(c.get('principal'), appId);
      return c.json({ schemas: (await listSchemas(c.get('deps').db, appId)).map(schemaView) }, 200);
    },
  );

  servedTwice(
    app,
    createRoute({
      method: 'post',
      path: '/v1/apps/{appId}/schemas',
      summary: 'Add a schema version; postbacks installed from effective_from on are re-decoded in the background',
      security: bearer,
      middleware: [requireRole('admin'), strictJson] as const,
      request: { params: AppParams, ...jsonBody(ConversionSchema) },
      responses: { 201: anyJson('The new version'), ...errorResponses(400, 401, 403, 413) },
    }),
    async (c) => {
      const { appId } = c.req.valid('param');
      checkApp(c.get('principal'), appId);
      const deps = c.get('deps');
      const definition = c.req.valid('json');
      const row = await deps.writer.run((tx) => addSchema(tx, appId, definition, deps.now()));
      return c.json(schemaView(row), 201);
    },
    // Here the app id is where the new version goes: one that is not a number is a bad request.
    (result, c) => {
      if (!result.success && result.target === 'param') throw new InvalidParameterError('appId', 'appId must be an integer');
      return validationHook(result, c);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/apps/{appId}/schemas/{version}',
      summary: 'One schema version',
      security: bearer,
      middleware: [requireRole('analyst')] as const,
      request: { params: VersionParams },
      responses: { 200: anyJson('The version'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { appId, version } = c.req.valid('param');
      checkApp(c.get('principal'), appId);
      const row = await getSchema(c.get('deps').db, appId, version);
      if (!row) throw new NotFoundError(`schema version ${version} for app ${appId}`);
      return c.json(schemaView(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/apps/{appId}/schemas/{version}',
      summary: 'Delete a schema version; affected postbacks are re-decoded',
      security: bearer,
      middleware: [requireRole('admin')] as const,
      request: { params: VersionParams },
      responses: { 204: noContent('Deleted'), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const { appId, version } = c.req.valid('param');
      checkApp(c.get('principal'), appId);
      const deps = c.get('deps');
      if (!(await deps.writer.run((tx) => deleteSchema(tx, appId, version, deps.now())))) throw new NotFoundError(`schema version ${version} for app ${appId}`);
      return c.body(null, 204);
    },
  );
}
