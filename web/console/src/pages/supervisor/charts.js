// Chart.js, bundled: only the controllers, elements, scales and plugins
// the reports draw are imported and registered, so esbuild leaves the
// rest out. No animation: a report is read, not watched, and a drawn
// canvas at once is what the browser test checks.

import {
  Chart, BarController, BarElement, LineController, LineElement, PointElement,
  CategoryScale, LinearScale, Legend, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement,
  CategoryScale, LinearScale, Legend, Tooltip);

export const COLORS = {
  answered: '#1f5fbf',
  abandoned: '#c0392b',
  other: '#8d99ad',
  line: '#1b7a3d',
  target: '#9a6200',
};

const base = {
  responsive: true,
  maintainAspectRatio: false,
  animation: false,
  plugins: { legend: { position: 'bottom' } },
};

/** Stacked bars: `series` are `{label, data, color}`. */
export function stackedBars(canvas, labels, series, { horizontal = false, yTitle } = {}) {
  return new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets: series.map((s) => ({ label: s.label, data: s.data, backgroundColor: s.color, maxBarThickness: 48 })) },
    options: {
      ...base,
      indexAxis: horizontal ? 'y' : 'x',
      scales: {
        x: { stacked: true, ...(horizontal ? { beginAtZero: true, ticks: { precision: 0 } } : {}) },
        y: { stacked: true, ...(horizontal ? {} : { beginAtZero: true, ticks: { precision: 0 } }),
          title: yTitle ? { display: true, text: yTitle } : undefined },
      },
    },
  });
}

/** Plain bars (one series). */
export function bars(canvas, labels, label, data, color, yTitle) {
  return new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets: [{ label, data, backgroundColor: color }] },
    options: {
      ...base,
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: yTitle ? { display: true, text: yTitle } : undefined } },
    },
  });
}

/** Service level per day (0–100 %) with the target as a dashed line. */
export function levelLine(canvas, labels, values, target) {
  return new Chart(canvas, {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: 'Service level', data: values, borderColor: COLORS.line, backgroundColor: COLORS.line, spanGaps: true, tension: 0.2, clip: 8 },
        { label: `Target ${target} %`, data: labels.map(() => target), borderColor: COLORS.target, borderDash: [6, 4], pointRadius: 0, pointStyle: 'line', backgroundColor: COLORS.target },
      ],
    },
    options: {
      ...base,
      scales: { y: { min: 0, max: 100, ticks: { callback: (v) => `${v} %` } } },
      plugins: {
        legend: { position: 'bottom', labels: { usePointStyle: true } },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${c.parsed.y === null ? '–' : `${c.parsed.y.toFixed(1)} %`}` } },
      },
    },
  });
}
