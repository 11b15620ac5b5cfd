// Preloaded into firebase-tools by scripts/test (NODE_OPTIONS=--require ...).
// `firebase emulators:exec` logs to stdout, including its shutdown lines after the
// child exits; moving its own messages to stderr leaves stdout to the child (pytest),
// so pytest's summary is the last line there. The child inherits the real fd 1.
process.stdout.write = process.stderr.write.bind(process.stderr);
