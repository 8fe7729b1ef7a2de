// The public API of src/report: pure renderers from results to text. Nothing
// here starts anything or touches the terminal; commands write what it returns.
export {
  renderLoadReport,
  renderLoadTable,
  renderLoadJson,
  renderLoadCsv,
  renderLoadMarkdown,
  renderLoadHtml,
  describeLoad,
  reportFormatOf,
  REPORT_FORMATS,
  CSV_COLUMNS,
  type ReportFormat,
} from './loadtest.js'
export {lineChart, niceTicks} from './svg.js'
export {ms, num, pct} from './format.js'
export {renderDiffText} from './traffic-diff.js'
