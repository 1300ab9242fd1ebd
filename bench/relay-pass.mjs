// A relay hook that lets every frame pass (scripts/bench-relay.sh): what the
// onForward path costs against forwarding inside the core, with nothing else in it.
export function onForward() {}
