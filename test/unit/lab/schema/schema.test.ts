import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { applyDefaults, prune, validate } from '../../../../lab/apiserver/schema/index.ts';
import type { Json, JsonSchema, KubeObject } from '../../../../lab/apiserver/types.ts';

const pathMatch: JsonSchema = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['Exact', 'PathPrefix', 'RegularExpression'], default: 'PathPrefix' },
    value: { type: 'string', maxLength: 10, default: '/' },
  },
};

const routeSchema: JsonSchema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['parentRefs'],
      properties: {
        parentRefs: {
          type: 'array',
          maxItems: 2,
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string', minLength: 1 } },
          },
        },
        hostnames: {
          type: 'array',
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', pattern: '^[a-z.]+$' },
        },
        rules: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              matches: {
                type: 'array',
                items: { type: 'object', properties: { path: pathMatch } },
              },
              timeout: { type: 'string', format: 'date-time' },
              weight: { type: 'integer', format: 'int32', minimum: 0, maximum: 1000000 },
              port: { 'x-kubernetes-int-or-string': true },
              ratio: { type: 'number', minimum: 0, exclusiveMinimum: true },
              note: { type: 'string', nullable: true },
              labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 3 } },
              choice: {
                type: 'object',
                properties: { a: { type: 'string' }, b: { type: 'string' } },
                oneOf: [{ required: ['a'] }, { required: ['b'] }],
              },
            },
          },
        },
      },
    },
  },
};

function route(spec: Json): KubeObject {
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' }, spec };
}

const valid = { parentRefs: [{ name: 'gw' }] };

interface VCase {
  name: string;
  spec: Json;
  want: { path: string; type: string; message: string }[];
}

const vcases: VCase[] = [
  {
    name: 'a valid object',
    spec: { ...valid, rules: [{ matches: [{ path: { type: 'Exact', value: '/a' } }] }] },
    want: [],
  },
  {
    name: 'enum with the exact Kubernetes message and path',
    spec: { ...valid, rules: [{ matches: [{ path: { type: 'Foo' } }] }] },
    want: [
      {
        path: 'spec.rules[0].matches[0].path.type',
        type: 'FieldValueNotSupported',
        message: 'Unsupported value: "Foo": supported values: "Exact", "PathPrefix", "RegularExpression"',
      },
    ],
  },
  {
    name: 'required fields',
    spec: { parentRefs: [{}] },
    want: [{ path: 'spec.parentRefs[0].name', type: 'FieldValueRequired', message: 'Required value' }],
  },
  {
    name: 'a missing required list',
    spec: {},
    want: [{ path: 'spec.parentRefs', type: 'FieldValueRequired', message: 'Required value' }],
  },
  {
    name: 'wrong type',
    spec: { ...valid, rules: [{ weight: 'ten' }] },
    want: [
      {
        path: 'spec.rules[0].weight',
        type: 'FieldValueTypeInvalid',
        message: 'Invalid value: "ten": spec.rules[0].weight in body must be of type integer: "string"',
      },
    ],
  },
  {
    name: 'too long and too many',
    spec: {
      parentRefs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      rules: [{ matches: [{ path: { value: '/0123456789' } }] }],
    },
    want: [
      {
        path: 'spec.parentRefs',
        type: 'FieldValueTooMany',
        message: 'Too many: 3: must have at most 2 items',
      },
      {
        path: 'spec.rules[0].matches[0].path.value',
        type: 'FieldValueTooLong',
        message: 'Too long: may not be more than 10 bytes',
      },
    ],
  },
  {
    name: 'duplicates in list-type map and set',
    spec: { parentRefs: [{ name: 'a' }, { name: 'a' }], hostnames: ['x.io', 'x.io'] },
    want: [
      { path: 'spec.parentRefs[1]', type: 'FieldValueDuplicate', message: 'Duplicate value: {"name":"a"}' },
      { path: 'spec.hostnames[1]', type: 'FieldValueDuplicate', message: 'Duplicate value: "x.io"' },
    ],
  },
  {
    name: 'pattern, minLength, minimum (exclusive) and maximum',
    spec: { parentRefs: [{ name: '' }], hostnames: ['X'], rules: [{ ratio: 0, weight: 2000000 }] },
    want: [
      {
        path: 'spec.parentRefs[0].name',
        type: 'FieldValueInvalid',
        message: 'Invalid value: "": spec.parentRefs[0].name in body should be at least 1 chars long',
      },
      {
        path: 'spec.hostnames[0]',
        type: 'FieldValueInvalid',
        message: 'Invalid value: "X": spec.hostnames[0] in body should match \'^[a-z.]+$\'',
      },
      {
        path: 'spec.rules[0].weight',
        type: 'FieldValueInvalid',
        message:
          'Invalid value: 2000000: spec.rules[0].weight in body should be less than or equal to 1000000',
      },
      {
        path: 'spec.rules[0].ratio',
        type: 'FieldValueInvalid',
        message: 'Invalid value: 0: spec.rules[0].ratio in body should be greater than 0',
      },
    ],
  },
  {
    name: 'formats date-time and int32',
    spec: { ...valid, rules: [{ timeout: 'soon', weight: 2 ** 31 }] },
    want: [
      {
        path: 'spec.rules[0].timeout',
        type: 'FieldValueTypeInvalid',
        message: 'Invalid value: "soon": spec.rules[0].timeout in body must be of type date-time: "soon"',
      },
      {
        path: 'spec.rules[0].weight',
        type: 'FieldValueInvalid',
        message:
          'Invalid value: 2147483648: spec.rules[0].weight in body should be less than or equal to 1000000',
      },
      {
        path: 'spec.rules[0].weight',
        type: 'FieldValueTypeInvalid',
        message:
          'Invalid value: 2147483648: spec.rules[0].weight in body must be of type int32: "2147483648"',
      },
    ],
  },
  {
    name: 'int-or-string and nullable accept their values; int-or-string refuses a boolean',
    spec: { ...valid, rules: [{ port: 'http', note: null }, { port: 80 }, { port: true }] },
    want: [
      {
        path: 'spec.rules[2].port',
        type: 'FieldValueTypeInvalid',
        message:
          'Invalid value: true: spec.rules[2].port in body must be of type integer-or-string: "boolean"',
      },
    ],
  },
  {
    name: 'additionalProperties values are validated with [key] paths',
    spec: { ...valid, rules: [{ labels: { ok: 'abc', bad: 'abcd' } }] },
    want: [
      {
        path: 'spec.rules[0].labels[bad]',
        type: 'FieldValueTooLong',
        message: 'Too long: may not be more than 3 bytes',
      },
    ],
  },
  {
    name: 'oneOf needs exactly one branch',
    spec: { ...valid, rules: [{ choice: { a: 'x' } }, { choice: { a: 'x', b: 'y' } }] },
    want: [
      {
        path: 'spec.rules[1].choice',
        type: 'FieldValueInvalid',
        message:
          'Invalid value: {"a":"x","b":"y"}: spec.rules[1].choice in body must validate one and only one schema (oneOf)',
      },
    ],
  },
];

describe('lab/apiserver/schema', () => {
  describe('validate', () => {
    for (const c of vcases) {
      it(c.name, () => assert.deepEqual(validate(route(c.spec), routeSchema), c.want));
    }

    it('anyOf, allOf and not', () => {
      const schema: JsonSchema = {
        type: 'object',
        properties: {
          x: { type: 'integer', anyOf: [{ minimum: 10 }, { maximum: 0 }], not: { enum: [-1] } },
          y: { type: 'string', allOf: [{ minLength: 2 }, { pattern: '^a' }] },
        },
      };
      const obj = { apiVersion: 'v1', kind: 'K', metadata: {}, x: 5, y: 'b' };
      assert.deepEqual(
        validate(obj, schema).map((c) => c.message),
        [
          'Invalid value: 5: x in body must validate at least one schema (anyOf)',
          'Invalid value: "b": y in body should be at least 2 chars long',
          'Invalid value: "b": y in body should match \'^a\'',
        ],
      );
      assert.deepEqual(
        validate({ ...obj, x: -1, y: 'ab' }, schema).map((c) => c.message),
        ['Invalid value: -1: x in body must not validate the schema (not)'],
      );
    });

    it('x-kubernetes-validations (CEL) are skipped', () => {
      const schema: JsonSchema = {
        type: 'object',
        'x-kubernetes-validations': [{ rule: 'false', message: 'never' }],
      };
      assert.deepEqual(validate({ apiVersion: 'v1', kind: 'K', metadata: {} }, schema), []);
    });
  });

  describe('applyDefaults', () => {
    const cases: { name: string; input: Json; want: Json }[] = [
      {
        name: 'defaults inside array items',
        input: { spec: { rules: [{ matches: [{ path: {} }, { path: { type: 'Exact' } }] }] } },
        want: {
          spec: {
            rules: [
              {
                matches: [
                  { path: { type: 'PathPrefix', value: '/' } },
                  { path: { type: 'Exact', value: '/' } },
                ],
              },
            ],
          },
        },
      },
      {
        name: 'a missing object without its own default is not created',
        input: { spec: { rules: [{ matches: [{}] }] } },
        want: { spec: { rules: [{ matches: [{}] }] } },
      },
      {
        name: 'null in a non-nullable defaulted field takes the default',
        input: { spec: { rules: [{ matches: [{ path: { type: null } }] }] } },
        want: { spec: { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] } },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const before = structuredClone(c.input);
        assert.deepEqual(applyDefaults(c.input, routeSchema), c.want);
        assert.deepEqual(c.input, before);
      });
    }

    it('a missing object with a default is created, then defaulted inside', () => {
      const schema: JsonSchema = {
        type: 'object',
        properties: {
          tls: {
            type: 'object',
            default: {},
            properties: { mode: { type: 'string', default: 'Terminate' } },
          },
          extra: {
            type: 'object',
            additionalProperties: { type: 'object', properties: { w: { type: 'integer', default: 1 } } },
          },
        },
      };
      assert.deepEqual(applyDefaults({ extra: { a: {} } }, schema), {
        tls: { mode: 'Terminate' },
        extra: { a: { w: 1 } },
      });
    });
  });

  describe('__proto__ keys', () => {
    const item: JsonSchema = { type: 'object', properties: { w: { type: 'integer', default: 1 } } };
    const schema: JsonSchema = {
      type: 'object',
      properties: { spec: { type: 'object', additionalProperties: item } },
    };
    const input = JSON.parse('{"spec":{"__proto__":{"polluted":"yes"}}}') as Json;
    const own = (out: Json): Record<string, unknown> => {
      const spec = (out as { spec: Record<string, unknown> }).spec;
      assert.ok(Object.hasOwn(spec, '__proto__'));
      assert.equal(Object.getPrototypeOf(spec), Object.prototype);
      assert.equal(spec['polluted'], undefined);
      return spec['__proto__'] as Record<string, unknown>;
    };
    it('applyDefaults and prune keep them as ordinary keys', () => {
      assert.deepEqual(own(applyDefaults(input, schema)), { polluted: 'yes', w: 1 });
      assert.deepEqual(own(prune(input, schema)), {});
    });
    it('validate does not see inherited properties as present', () => {
      const required: JsonSchema = { type: 'object', required: ['__proto__', 'toString'] };
      const errs = validate({ apiVersion: 'v1', kind: 'K', metadata: {} }, required);
      assert.deepEqual(
        errs.map((e) => [e.path, e.type]),
        [
          ['__proto__', 'FieldValueRequired'],
          ['toString', 'FieldValueRequired'],
        ],
      );
    });
  });

  describe('prune', () => {
    it('drops unknown fields but keeps apiVersion, kind and all of metadata at the root', () => {
      const input = {
        apiVersion: 'v1',
        kind: 'HTTPRoute',
        metadata: { name: 'r', labels: { a: 'b' }, bogus: 1 },
        spec: { parentRefs: [{ name: 'gw', junk: true }], unknown: 1, rules: [{ labels: { k: 'v' } }] },
        status: { x: 1 },
      };
      assert.deepEqual(prune(input, routeSchema), {
        apiVersion: 'v1',
        kind: 'HTTPRoute',
        metadata: { name: 'r', labels: { a: 'b' }, bogus: 1 },
        spec: { parentRefs: [{ name: 'gw' }], rules: [{ labels: { k: 'v' } }] },
      });
    });

    it('keeps unknown fields under x-kubernetes-preserve-unknown-fields and prunes embedded metadata', () => {
      const schema: JsonSchema = {
        type: 'object',
        properties: {
          spec: {
            type: 'object',
            properties: {
              free: {
                type: 'object',
                'x-kubernetes-preserve-unknown-fields': true,
                properties: { k: { type: 'object' } },
              },
              template: {
                type: 'object',
                'x-kubernetes-embedded-resource': true,
                properties: { spec: { type: 'object' } },
              },
            },
          },
        },
      };
      const input = {
        apiVersion: 'v1',
        kind: 'K',
        metadata: {},
        spec: {
          free: { anything: [1], k: { dropped: 1 } },
          template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', bogus: 1 }, spec: {}, other: 1 },
        },
      };
      assert.deepEqual(prune(input, schema), {
        apiVersion: 'v1',
        kind: 'K',
        metadata: {},
        spec: {
          free: { anything: [1], k: {} },
          template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} },
        },
      });
    });
  });
});
