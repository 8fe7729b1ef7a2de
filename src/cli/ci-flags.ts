// The efficiency thresholds that `mlserve build` and `mlserve inspect` share
// (dive's .dive-ci rules), as typed flags, and the thresholds they make.
import * as flag from './flags.js'
import {DEFAULT_CI_THRESHOLDS, type CiThresholds} from '../image/index.js'

export const ciThresholdFlags = {
  'lowest-efficiency': flag.fraction({description: 'The lowest image efficiency allowed, from 0 to 1 or as a percentage (dive’s lowestEfficiency; 0.9 under --ci unless given).'}),
  'highest-user-wasted-percent': flag.fraction({
    description: 'The highest share of wasted bytes in the layers after the first, from 0 to 1 or as a percentage (dive’s highestUserWastedPercent; 0.1 under --ci unless given).',
  }),
  'highest-wasted-bytes': flag.byteCount({description: 'The most wasted bytes allowed, as a number of bytes or a size such as 10MB (dive’s highestWastedBytes; off unless given).'}),
}

/** The rules to check: those given, and under --ci dive's defaults for the others; undefined when there are none. */
export function ciThresholds(
  flags: {'lowest-efficiency'?: number; 'highest-user-wasted-percent'?: number; 'highest-wasted-bytes'?: number},
  ci: boolean,
): CiThresholds | undefined {
  const given: CiThresholds = {
    ...(flags['lowest-efficiency'] === undefined ? {} : {lowestEfficiency: flags['lowest-efficiency']}),
    ...(flags['highest-user-wasted-percent'] === undefined ? {} : {highestUserWastedPercent: flags['highest-user-wasted-percent']}),
    ...(flags['highest-wasted-bytes'] === undefined ? {} : {highestWastedBytes: flags['highest-wasted-bytes']}),
  }
  const out: CiThresholds = ci ? {...DEFAULT_CI_THRESHOLDS, ...given} : given
  return Object.keys(out).length === 0 ? undefined : out
}
