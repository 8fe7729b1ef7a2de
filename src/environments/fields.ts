// The shapes of an environment's fields as a user writes them (names, registry
// references, Docker endpoints, node labels), as pure functions: the flag
// parsers in src/cli/flags.ts and the environments file's reader share them,
// so a value the CLI refuses is refused in the file too.

/** An environment's name: lowercase letters, digits, - . _; starts with a letter or digit; at most 63 characters. */
export const ENV_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/

export function isEnvironmentName(text: string): boolean {
  return ENV_NAME.test(text)
}

// A registry host as Docker reads one: a DNS name or IPv4 address, an optional port.
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(?::\d{1,5})?$/
// A repository path component, as the distribution spec allows.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/

/**
 * HOST[:PORT][/NAMESPACE…] without a scheme, such as 127.0.0.1:5000 or
 * registry.example.com/team; undefined when it is not one. A trailing slash is dropped.
 */
export function parseRegistry(text: string): string | undefined {
  const value = text.replace(/\/+$/, '')
  if (value === '' || /^[a-z]+:\/\//i.test(value)) return undefined
  const [host, ...namespace] = value.split('/')
  if (!HOST.test(host)) return undefined
  const port = host.includes(':') ? Number(host.slice(host.indexOf(':') + 1)) : undefined
  if (port !== undefined && (port < 1 || port > 65535)) return undefined
  if (!namespace.every((part) => COMPONENT.test(part))) return undefined
  return value
}

/** The registry's host (with its port): what Docker's credentials and the engine's auth are keyed by. */
export function registryHost(registry: string): string {
  return registry.split('/')[0]
}

/** A Docker endpoint as DOCKER_HOST takes one: unix:///path, tcp://host:port, ssh://user@host; undefined otherwise. */
export function parseDockerHost(text: string): string | undefined {
  if (/^unix:\/\/\/.+/.test(text)) return text
  if (/^tcp:\/\/[^/\s:]+:\d{1,5}\/?$/.test(text)) return text.replace(/\/$/, '')
  if (/^ssh:\/\/(?:[^@\s/]+@)?[^/\s:]+(?::\d{1,5})?\/?$/.test(text)) return text.replace(/\/$/, '')
  return undefined
}

/** A node label KEY=VALUE (Docker's label key syntax; the value may be empty). */
export function parseNodeLabel(text: string): {key: string; value: string} | undefined {
  const eq = text.indexOf('=')
  if (eq <= 0) return undefined
  const key = text.slice(0, eq).trim()
  const value = text.slice(eq + 1).trim()
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9._/-]*[a-zA-Z0-9])?$/.test(key) || /\s/.test(value)) return undefined
  return {key, value}
}

/** Swarm's constraint parser takes no '/' in a node label's key (Kubernetes keys like cloud.google.com/gke-spot have one). */
export function isSwarmLabelKey(key: string): boolean {
  return /^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/.test(key)
}

export const SWARM_LABEL_KEY_RULE = 'KEY=VALUE whose key has only letters, digits, ".", "_" and "-" (Swarm refuses "/" in a constraint\'s label key), such as node.kind=spot'

/** A Kubernetes namespace: a DNS-1123 label. */
export function isNamespace(text: string): boolean {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text)
}
