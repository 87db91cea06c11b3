export default { path: '/reports', title: 'Reports', nav: 'Supervise', roles: ['admin', 'supervisor'], render() {} };
