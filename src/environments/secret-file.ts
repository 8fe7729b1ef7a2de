// Files that hold what only this user may read (environments, registry
// logins): created and rewritten with mode 0600 in a 0700 directory, and
// replaced atomically (a temp file in the same directory, fsync, rename) so
// that a crash leaves the old file or the new one, never half of one.
// Synchronous on purpose: the environments are read while a command parses
// its flags, and each file is a few hundred bytes.
// Not src/config/write.ts's writeFileAtomic: that keeps the old file's mode
// (we force 0600, even on a file a user made 0644), and its module loads the
// project's schema, which `mlserve env list` does not need.
import {randomBytes} from 'node:crypto'
import {chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

export const SECRET_FILE_MODE = 0o600

/** The file's text, or null when it does not exist. */
export function readTextIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
}

/** Writes `content` to `file` with mode 0600, atomically; makes its directory (0700) when missing. */
export function writeSecretFileAtomic(file: string, content: string): void {
  const dir = dirname(file)
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = openSync(temp, 'wx', SECRET_FILE_MODE)
  try {
    writeSync(fd, content)
    fsyncSync(fd)
    closeSync(fd)
    // The umask cannot widen 0600, but a chmod says it outright.
    chmodSync(temp, SECRET_FILE_MODE)
    renameSync(temp, file)
  } catch (error) {
    try {
      closeSync(fd)
    } catch {
      // already closed
    }
    try {
      unlinkSync(temp)
    } catch {
      // never made, or already renamed
    }
    throw error
  }
  // Persist the rename itself (best effort: not every platform can fsync a directory).
  try {
    const dirFd = openSync(dir, 'r')
    try {
      fsyncSync(dirFd)
    } finally {
      closeSync(dirFd)
    }
  } catch {
    // best effort
  }
}
