// The operator pages, in navigation order (see ../index.js for a page's shape).
export default [];
