// Flag values validated up front, with an error that names the flag and the value received.
import {parseDurationMs, parseMemoryBytes} from '../config/index.js'
import {mlserveError} from '../errors.js'

export function durationFlag(flag: string, value: string): number {
  const text = /^\d+(\.\d+)?$/.test(value.trim()) ? `${value.trim()}s` : value
  try {
    const ms = parseDurationMs(text)
    if (ms <= 0) throw new Error('not positive')
    return ms
  } catch {
    throw mlserveError('MLS_INVALID_FLAG', {flag, value, expected: 'a positive duration such as 500ms, 30s or 2m (a bare number means seconds)'})
  }
}

export function sizeFlag(flag: string, value: string): number {
  try {
    const bytes = parseMemoryBytes(value)
    if (!(bytes > 0)) throw new Error('not positive')
    return bytes
  } catch {
    throw mlserveError('MLS_INVALID_FLAG', {flag, value, expected: 'a positive size such as 10Mi, 512Ki or 1048576'})
  }
}

export function positiveIntFlag(flag: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw mlserveError('MLS_INVALID_FLAG', {flag, value: String(value), expected: 'a whole number of 1 or more'})
  }
  return value
}
