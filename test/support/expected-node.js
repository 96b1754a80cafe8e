// CI runs the suite once per supported Node.js line and sets KMP_EXPECT_NODE_MAJOR for each run. A run that has
// silently fallen back to another `node` on PATH would report green for a version it never ran on, so the jest process
// (jest.config.js requires this file) and every test worker (a setupFiles entry) refuse to run on any other major.
'use strict';

const expected = process.env.KMP_EXPECT_NODE_MAJOR;
const actual = process.versions.node.split('.')[0];
if (expected !== undefined && expected !== '' && expected !== actual) {
  throw new Error(
    `this run must be on Node.js ${expected}, but ${process.execPath} is ${process.version} (KMP_EXPECT_NODE_MAJOR)`,
  );
}
