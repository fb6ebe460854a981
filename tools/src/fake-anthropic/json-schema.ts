type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function typeOk(type: string, value: unknown): boolean {
  switch (type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "null":
      return value === null;
    default:
      return true;
  }
}

function resolve(ref: string, root: Schema): Schema {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  const defs = m ? root[m[1] as string] : undefined;
  const target = m && isObject(defs) ? defs[decodeURIComponent(m[2] as string)] : ref === "#" ? root : undefined;
  if (!isObject(target)) throw new Error(`unresolvable $ref ${ref}`);
  return target;
}

/**
 * Where `value` breaks `schema`: the subset of JSON Schema that structured outputs constrain (`type`, `enum`,
 * `const`, `properties`, `required`, `additionalProperties`, `items`, `anyOf`/`oneOf`/`allOf`, local `$ref`).
 * Returns one line per problem, none when it conforms. The SDK moves length and pattern limits into descriptions,
 * so those are not checked, as the API does not check them.
 */
export function schemaErrors(schema: Schema, value: unknown, root: Schema = schema, path = "$"): string[] {
  if (typeof schema.$ref === "string") return schemaErrors(resolve(schema.$ref, root), value, root, path);
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type.map(String) : [String(schema.type)];
    if (!types.some((t) => typeOk(t, value))) return [`${path}: expected ${types.join(" or ")}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    errors.push(`${path}: expected ${JSON.stringify(schema.const)}`);
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options) && !options.some((o) => isObject(o) && schemaErrors(o, value, root, path).length === 0)) {
      errors.push(`${path}: matches none of ${key}`);
    }
  }
  if (Array.isArray(schema.allOf)) {
    for (const s of schema.allOf) if (isObject(s)) errors.push(...schemaErrors(s, value, root, path));
  }
  if (isObject(value)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    for (const key of Array.isArray(schema.required) ? schema.required.map(String) : []) {
      if (!(key in value)) errors.push(`${path}.${key}: required`);
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = props[key];
      if (isObject(sub)) errors.push(...schemaErrors(sub, v, root, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}.${key}: not allowed`);
      else if (isObject(schema.additionalProperties)) {
        errors.push(...schemaErrors(schema.additionalProperties, v, root, `${path}.${key}`));
      }
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    const items = schema.items;
    value.forEach((v, i) => {
      errors.push(...schemaErrors(items, v, root, `${path}[${i}]`));
    });
  }
  return errors;
}
