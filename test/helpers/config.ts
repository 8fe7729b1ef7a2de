// Parsing an mlserve.yaml that must be invalid, for the config tests.
import assert from 'node:assert/strict'
import {parseProject} from '../../src/config/index.js'
import {isMlserveError, type MlserveError} from '../../src/errors.js'

/** The error parsing `text` as mlserve.yaml raises; fails the test when it parses or raises anything but MLS_CONFIG_INVALID. */
export function configFailure(text: string): MlserveError {
  try {
    parseProject(text, 'mlserve.yaml')
  } catch (error) {
    assert.ok(isMlserveError(error), `expected an MlserveError, got ${(error as Error)?.stack ?? String(error)}`)
    assert.equal(error.code, 'MLS_CONFIG_INVALID')
    return error
  }
  assert.fail('expected the config to be invalid')
}

/** The error lines of an invalid config (mlserve.yaml:line:col  field: what is wrong). */
export const configErrors = (text: string): string[] => configFailure(text).details
