// The agent pages, in navigation order (see ../index.js for a page's shape).
import agent from './agent.js';
import history from './history.js';

export default [agent, history];
