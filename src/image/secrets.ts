// What looks like a secret: file names (dockle CIS-DI-0010's list, plus a few
// kin) and ENV/ARG names (dockle's words, matched per `_`-separated word so
// that TOKENIZERS_PARALLELISM is not a token). A file that looks like a secret
// never enters a build context, and a secret-looking ENV or ARG with a value
// never enters an image, unless the user allows it by name.

/** Exact file names. */
const SECRET_NAMES = new Set([
  'id_rsa',
  'id_dsa',
  'id_ecdsa',
  'id_ed25519',
  'id_ecdsa_sk',
  'id_ed25519_sk',
  'credentials',
  'credentials.json',
  'password.txt',
  '.netrc',
  '.pgpass',
  '.pypirc',
  '.git-credentials',
  '.htpasswd',
])

/** File extensions. */
const SECRET_EXTENSIONS = ['.pem', '.key', '.secret', '.ovpn', '.private_key', '.jks', '.p12', '.pfx', '.keystore']

/** Directories whose every file is a secret. */
const SECRET_DIRS = new Set(['.aws', '.ssh', '.gnupg', '.git', '.docker'])

/** Why a context path (POSIX, relative) looks like a secret, or null. */
export function secretFileReason(path: string): string | null {
  const parts = path.split('/')
  const base = parts[parts.length - 1]
  const dir = parts.slice(0, -1).find((p) => SECRET_DIRS.has(p))
  if (dir !== undefined) return `inside ${dir}/`
  const lower = base.toLowerCase()
  if (lower === '.env' || lower.startsWith('.env.') || lower.startsWith('.env_') || lower.startsWith('.env-') || lower === '.envrc') return 'an environment file (.env*)'
  if (SECRET_NAMES.has(lower)) return `a credentials file (${base})`
  const ext = SECRET_EXTENSIONS.find((e) => lower.endsWith(e))
  if (ext !== undefined) return `a key or certificate file (*${ext})`
  return null
}

const SECRET_WORDS = new Set(['PASS', 'PASSWD', 'PASSWORD', 'PASSPHRASE', 'SECRET', 'SECRETS', 'KEY', 'TOKEN', 'CREDENTIALS', 'CREDENTIAL', 'APIKEY'])
/** Words such as AUTHTOKEN or DBPASSWORD: a word that ends like this is a secret too. */
const SECRET_SUFFIXES = ['PASSWORD', 'PASSWD', 'SECRET', 'TOKEN', 'APIKEY']

/**
 * Whether an ENV or ARG name looks like it holds a secret: one of its words
 * (split on `_`, `-` and `.`) is PASS, PASSWD, PASSWORD, SECRET, KEY, TOKEN, …
 * (dockle's CIS-DI-0010 words), or ends with PASSWORD, SECRET, TOKEN or APIKEY.
 * dockle's ACCESS alone is left out: ACCESS_KEY and ACCESS_TOKEN are caught by
 * KEY and TOKEN, and ACCESS_LOG is not a secret.
 */
export function isSecretName(name: string): boolean {
  const words = name.toUpperCase().split(/[_.-]+/).filter((w) => w !== '')
  return words.some((w) => SECRET_WORDS.has(w) || SECRET_SUFFIXES.some((s) => w.endsWith(s)))
}

export interface SecretFile {
  path: string
  reason: string
}

export interface SecretEnv {
  name: string
  /** Where it was found: `predictor.env`, or `Dockerfile:12 (ENV)`. */
  where: string
}
