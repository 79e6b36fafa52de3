// Charts with Chart.js, registering only the parts the explorer draws (lines and bars).
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Title,
  Tooltip,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Title, Tooltip);
Chart.defaults.animation = false;
Chart.defaults.font.size = 11;

const clock = (ms, span) =>
  new Date(ms).toLocaleTimeString([], span > 36e5 * 2 ? { hour: "2-digit", minute: "2-digit" } : { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** A time chart of one telemetry: window aggregates, and the live values beside them. */
export function telemetryChart(canvas, unit) {
  return new Chart(canvas, {
    type: "line",
    data: {
      datasets: [
        { label: "window mean", data: [], borderColor: "#4e79a7", backgroundColor: "rgba(78,121,167,.12)", fill: true, pointRadius: 0, tension: 0.2 },
        { label: "live values", data: [], borderColor: "#e15759", backgroundColor: "#e15759", showLine: false, pointRadius: 3 },
      ],
    },
    options: {
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: "linear", ticks: { maxTicksLimit: 6, callback: (v, _i, ticks) => clock(v, ticks.at(-1).value - ticks[0].value) } },
        y: { title: { display: Boolean(unit), text: unit ?? "" } },
      },
      plugins: { tooltip: { callbacks: { title: (items) => new Date(items[0].parsed.x).toLocaleString() } } },
    },
  });
}

/** Bars per category, one dataset per series ({label, values, errors?}); errors are 95% half-widths. */
export function barChart(canvas, labels, series, title) {
  const colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: series.map((s, i) => ({ label: s.label, data: s.values, backgroundColor: colours[i % colours.length] })),
    },
    options: {
      maintainAspectRatio: false,
      plugins: {
        title: { display: Boolean(title), text: title },
        tooltip: {
          callbacks: {
            label: (item) => {
              const error = series[item.datasetIndex].errors?.[item.dataIndex];
              const value = item.parsed.y.toFixed(3);
              return `${item.dataset.label}: ${error === null || error === undefined ? value : `${value} ± ${error.toFixed(3)}`}`;
            },
          },
        },
      },
    },
  });
}
