/**
 * Checks emulator routes and responses against Bitbucket's OpenAPI 3.0 document. Response schemas are
 * read leniently, the way real responses need: extra properties are allowed, optional properties may
 * be null (Bitbucket writes `"last_used": null` where the schema says string), `nullable` is honoured,
 * a value whose `type` names a schema that inherits (allOf) from the expected one is also checked
 * against that schema, which is what the spec's `discriminator: {propertyName: type}` means, and
 * `format: uri` also takes the scp-style `git@bitbucket.org:ws/repo.git` that Bitbucket's own ssh
 * clone links use.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { DataValidateFunction } from 'ajv/dist/types/index.js';
import formatsModule from 'ajv-formats';
import type { FormatsPlugin } from 'ajv-formats';
import type { RouteInfo } from '../../../../dev/http';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface OpenApiSpec {
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, Json> };
}

export interface ObservedResponse {
  status: number;
  contentType: string;
  /** Parsed JSON when the response is JSON, else the text. */
  body: unknown;
}

const SCHEMA_PREFIX = '#/components/schemas/';
const DOC_ID = 'bitbucket-openapi';
const DISPATCH = 'x-dispatch-by-type';

/**
 * The bare field-error body Bitbucket sends for some 400s the spec gives no body for (a refused access
 * key): `{"key": [{"message": "..."}]}`, at least one field, each a non-empty list of messages. Known
 * from Bitbucket's answers, not from the spec.
 */
const FIELD_ERRORS: Json = {
  type: 'object',
  minProperties: 1,
  additionalProperties: {
    type: 'array',
    minItems: 1,
    items: { type: 'object', required: ['message'], properties: { message: { type: 'string', minLength: 1 } } },
  },
};

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const URI = /^[a-z][a-z0-9+.-]*:[^\s]*$/i;
const SCP_STYLE_GIT = /^[\w.-]+@[\w.-]+:[^\s]+$/;

const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ?? formatsModule) as FormatsPlugin;

/** The project's copy of Atlassian's spec (spec/bitbucket/README.md says where it came from). */
export function specPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'spec', 'bitbucket', 'swagger.v3.json');
}

export function loadBitbucketSpec(path = specPath()): OpenApiSpec {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as OpenApiSpec;
  } catch (err) {
    throw new Error(
      `Cannot read the Bitbucket OpenAPI spec at ${path} (${err instanceof Error ? err.message : String(err)}). ` +
        'The project keeps it at spec/bitbucket/swagger.v3.json.',
    );
  }
}

/**
 * A matcher from a concrete API path below `/2.0` (`/repositories/acme/models/deploy-keys/7`) to the
 * spec's path template it belongs to: the matching template with the most literal segments, so
 * `/user/permissions/workspaces` is not read as `/user/{x}/{y}`. A trailing `{path}` takes slashes.
 */
export function pathTemplates(spec: Pick<OpenApiSpec, 'paths'> | { paths: Record<string, unknown> }): (path: string) => string | undefined {
  const templates = Object.keys(spec.paths).map((template) => {
    const parts = template.split('/');
    const pattern = parts
      .map((seg, i) => {
        if (/^\{[^}]+\}$/.test(seg)) return i === parts.length - 1 && seg === '{path}' ? '.+' : '[^/]+';
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    return { template, regex: new RegExp(`^${pattern}$`), literals: parts.filter((p) => p && !p.startsWith('{')).length };
  });
  return (path) => templates.filter((t) => t.regex.test(path)).sort((a, b) => b.literals - a.literals)[0]?.template;
}

export class SpecChecker {
  private readonly ajv: Ajv;
  /** Schema name -> names of schemas that inherit from it through allOf, transitively. */
  private readonly descendants = new Map<string, Set<string>>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly spec: OpenApiSpec) {
    const schemas = spec.components?.schemas ?? {};
    this.computeDescendants(schemas);
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addFormat('uri', (value: string) => SCP_STYLE_GIT.test(value) || (URI.test(value) && URL.canParse(value)));
    const dispatch: DataValidateFunction = (base: unknown, data: unknown) => {
      dispatch.errors = [];
      if (!isObject(data) || typeof data.type !== 'string' || typeof base !== 'string') return true;
      if (!this.descendants.get(base)?.has(data.type)) return true;
      const validate = this.ajv.getSchema(`${DOC_ID}${SCHEMA_PREFIX}${data.type}`);
      if (!validate || validate(data)) return true;
      dispatch.errors = (validate.errors ?? []).map((e) => ({ ...e, message: `as ${data.type}: ${e.message ?? ''}` }));
      return false;
    };
    this.ajv.addKeyword({ keyword: DISPATCH, schemaType: 'string', errors: true, validate: dispatch });
    const lenient: JsonObject = {};
    for (const [name, schema] of Object.entries(schemas)) lenient[name] = this.lenient(schema, '#');
    this.ajv.addSchema({ components: { schemas: lenient } }, DOC_ID);
  }

  private computeDescendants(schemas: Record<string, Json>): void {
    const children = new Map<string, Set<string>>();
    for (const [name, schema] of Object.entries(schemas)) {
      if (!isObject(schema) || !Array.isArray(schema.allOf)) continue;
      for (const part of schema.allOf) {
        if (isObject(part) && typeof part.$ref === 'string' && part.$ref.startsWith(SCHEMA_PREFIX)) {
          const parent = part.$ref.slice(SCHEMA_PREFIX.length);
          children.set(parent, (children.get(parent) ?? new Set()).add(name));
        }
      }
    }
    const collect = (name: string, out: Set<string>) => {
      for (const child of children.get(name) ?? []) {
        if (out.has(child)) continue;
        out.add(child);
        collect(child, out);
      }
      return out;
    };
    for (const name of children.keys()) this.descendants.set(name, collect(name, new Set()));
  }

  /** Rewrites one schema node for lenient response checking; `docRef` prefixes `#/components/...` refs. */
  private lenient(node: Json, docRef: string, inAllOf = false): Json {
    if (Array.isArray(node)) return node.map((n) => this.lenient(n, docRef));
    if (!isObject(node)) return node;
    if (typeof node.$ref === 'string') {
      const ref = node.$ref.startsWith('#') ? `${docRef}${node.$ref.slice(1)}` : node.$ref;
      const name = node.$ref.startsWith(SCHEMA_PREFIX) ? node.$ref.slice(SCHEMA_PREFIX.length) : undefined;
      // allOf parts are the inheritance itself; dispatching there would send a subtype back to itself.
      if (!inAllOf && name && this.descendants.has(name)) return { allOf: [{ $ref: ref }], [DISPATCH]: name };
      return { $ref: ref };
    }
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'discriminator' || key === 'nullable' || key === 'example') continue;
      if (key === 'additionalProperties' && value === false) continue;
      if (key === 'allOf' && Array.isArray(value)) out.allOf = value.map((v) => this.lenient(v, docRef, true));
      else if (key === 'properties' && isObject(value)) {
        const required = new Set(Array.isArray(node.required) ? node.required : []);
        const props: JsonObject = {};
        for (const [prop, schema] of Object.entries(value)) {
          const inner = this.lenient(schema, docRef);
          props[prop] = required.has(prop) ? inner : { anyOf: [{ type: 'null' }, inner] };
        }
        out.properties = props;
      } else if (isObject(value) || Array.isArray(value)) out[key] = this.lenient(value, docRef);
      else out[key] = value;
    }
    if (node.nullable === true) return { anyOf: [{ type: 'null' }, out] };
    return out;
  }

  operation(method: string, template: string): JsonObject | undefined {
    const op = this.spec.paths[template]?.[method.toLowerCase()];
    return isObject(op) ? op : undefined;
  }

  /** Routes whose method and path template the spec does not have, as `METHOD /template`. */
  unknownRoutes(routes: RouteInfo[]): string[] {
    return routes.filter((r) => !this.operation(r.method, r.template)).map((r) => `${r.method} ${r.template}`);
  }

  /** Validates `value` against a named component schema; returns readable errors ([] when valid). */
  validateSchema(name: string, value: unknown): string[] {
    return this.run(`schema:${name}`, { $ref: `${DOC_ID}${SCHEMA_PREFIX}${name}` }, value, name);
  }

  /**
   * Checks one observed response of `method template`. JSON bodies are validated against the schema the
   * spec gives for that status (error bodies against `error` where the spec names none); other bodies
   * are reported as unchecked so the caller can decide whether a non-JSON answer is right there.
   */
  checkResponse(method: string, template: string, res: ObservedResponse): { checked: boolean; errors: string[] } {
    const op = this.operation(method, template);
    if (!op) return { checked: false, errors: [`${method} ${template} is not in the spec`] };
    if (res.status === 204) {
      const empty = res.body === '' || res.body === undefined;
      return { checked: true, errors: empty ? [] : ['a 204 response must have no body'] };
    }
    if (!res.contentType.includes('application/json')) return { checked: false, errors: [] };
    const responses = isObject(op.responses) ? op.responses : {};
    const declared = responses[String(res.status)] ?? responses.default;
    const content = isObject(declared) && isObject(declared.content) ? declared.content['application/json'] : undefined;
    const schema = isObject(content) ? content.schema : undefined;
    if (schema !== undefined) {
      const key = `${method} ${template} ${res.status}`;
      return { checked: true, errors: this.run(key, this.lenient(schema, `${DOC_ID}#`), res.body, key) };
    }
    if (isObject(res.body) && res.body.type === 'error') return { checked: true, errors: this.validateSchema('error', res.body) };
    if (res.status === 400 && isObject(res.body) && !('type' in res.body)) {
      return { checked: true, errors: this.run('field errors', FIELD_ERRORS, res.body, `${method} ${template} 400`) };
    }
    return { checked: false, errors: [`the spec declares no JSON schema for status ${res.status} of ${method} ${template}`] };
  }

  private run(key: string, schema: Json, value: unknown, label: string): string[] {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema as object);
      this.compiled.set(key, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e: ErrorObject) => `${label}: ${e.instancePath || '/'} ${e.message ?? ''} (${e.schemaPath})`);
  }
}
