// Where mlserve keeps what belongs to the user rather than to a project: the
// config directory (XDG), which holds environments.yaml and the registry
// logins (credentials.yaml).
import {homedir} from 'node:os'
import {join} from 'node:path'

/** $MLSERVE_CONFIG_DIR, else $XDG_CONFIG_HOME/mlserve, else ~/.config/mlserve. */
export function configDir(): string {
  const own = process.env.MLSERVE_CONFIG_DIR
  if (own) return own
  const xdg = process.env.XDG_CONFIG_HOME
  // The XDG spec ignores a relative XDG_CONFIG_HOME.
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.config'), 'mlserve')
}

export function environmentsFile(): string {
  return join(configDir(), 'environments.yaml')
}

/** What `mlserve login` stored, beside the environments. */
export function credentialsFile(): string {
  return join(configDir(), 'credentials.yaml')
}
