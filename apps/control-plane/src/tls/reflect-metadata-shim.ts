/**
 * The part of the `reflect-metadata` polyfill that tsyringe (a dependency of @peculiar/x509) checks
 * for at load and calls: define/get(Own)Metadata. Installed only when no polyfill is present; the
 * control plane has no other user of decorator metadata, so a small WeakMap-backed one does.
 */
type Bucket = Map<unknown, unknown>;

export function installReflectMetadataShim(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect['getMetadata'] === 'function') return;
  const store = new WeakMap<object, Map<PropertyKey | undefined, Bucket>>();
  const bucket = (target: object, property: PropertyKey | undefined, create: boolean): Bucket | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let found = byProperty.get(property);
    if (!found && create) {
      found = new Map();
      byProperty.set(property, found);
    }
    return found;
  };
  reflect['defineMetadata'] = (
    key: unknown,
    value: unknown,
    target: object,
    property?: PropertyKey,
  ): void => {
    bucket(target, property, true)!.set(key, value);
  };
  reflect['getOwnMetadata'] = (key: unknown, target: object, property?: PropertyKey): unknown =>
    bucket(target, property, false)?.get(key);
  reflect['getMetadata'] = (key: unknown, target: object, property?: PropertyKey): unknown => {
    for (let at: object | null = target; at; at = Object.getPrototypeOf(at) as object | null) {
      const found = bucket(at, property, false);
      if (found?.has(key)) return found.get(key);
    }
    return undefined;
  };
}
