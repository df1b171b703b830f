//! A run's results for people and tools: the summary, the time series as CSV, the
//! players' gaps as CSV, and the plots (SVG, plotters).

use crate::sim::Report;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// The summary of the runs, as text.
pub fn summary(runs: &[Report]) -> String {
    let mut s = String::new();
    for r in runs {
        let engine = match r.engine {
            planp_interp::Engine::Interp => "interp",
            planp_interp::Engine::Jit => "jit",
        };
        let _ = writeln!(s, "run `{}` (engine {engine}): {} events", r.label, r.events);
        let _ = writeln!(
            s,
            "  {:<12} {:>9} {:>9} {:>5} {:>9} {:>9} {:>9}  dropped",
            "node", "in", "runs", "exc", "received", "delivered", "sent"
        );
        for (name, n) in &r.nodes {
            let dropped: Vec<String> = n.dropped.iter().map(|(why, k)| format!("{k} {why}")).collect();
            let _ = writeln!(
                s,
                "  {:<12} {:>9} {:>9} {:>5} {:>9} {:>9} {:>9}  {}",
                name,
                n.frames_in,
                n.channel_runs,
                n.exceptions,
                n.received,
                n.delivered,
                n.sent,
                if dropped.is_empty() { "-".to_string() } else { dropped.join(", ") }
            );
        }
        let _ = writeln!(s, "  {:<32} {:>9} {:>12} {:>7} {:>6}", "link direction", "frames", "bytes", "drops", "max q");
        for (name, d) in &r.links {
            let _ = writeln!(s, "  {:<32} {:>9} {:>12} {:>7} {:>6}", name, d.frames, d.bytes, d.drops, d.max_queue);
        }
        for p in &r.players {
            let _ = writeln!(
                s,
                "  player {}:{}: {} sent, {} played, {} late, {} lost, {} in another format; gaps {}",
                p.node,
                p.port,
                p.sent,
                p.played,
                p.late,
                p.lost,
                p.malformed,
                p.gaps.iter().sum::<u64>()
            );
            for ((a, b), g) in r.phases.iter().zip(&p.gaps) {
                let _ = writeln!(s, "    {a:>6.1} s to {b:>6.1} s: {g} gaps");
            }
        }
        for (name, n) in &r.nodes {
            if !n.printed.is_empty() {
                let _ = writeln!(s, "  {name} printed {} bytes (trace.txt has them)", n.printed.len());
            }
        }
    }
    s
}

/// Write `series.csv`: a row per bin (its start in seconds), a column per series in
/// bytes per second.
pub fn write_series(dir: &Path, r: &Report) -> std::io::Result<()> {
    let mut s = String::from("time_s");
    for x in &r.series {
        s.push(',');
        s.push_str(&x.name.replace(',', ";"));
    }
    s.push('\n');
    let bins = r.series.first().map_or(0, |x| x.values.len());
    for i in 0..bins {
        let _ = write!(s, "{}", i as f64 * r.bin_s);
        for x in &r.series {
            let _ = write!(s, ",{}", x.values[i]);
        }
        s.push('\n');
    }
    std::fs::write(dir.join("series.csv"), s)
}

/// Write `players.csv`: per player and phase, the gaps.
pub fn write_players(dir: &Path, r: &Report) -> std::io::Result<()> {
    let mut s = String::from("player,phase_start_s,phase_end_s,gaps\n");
    for p in &r.players {
        for ((a, b), g) in r.phases.iter().zip(&p.gaps) {
            let _ = writeln!(s, "{}:{},{a},{b},{g}", p.node, p.port);
        }
    }
    std::fs::write(dir.join("players.csv"), s)
}

fn plot_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Draw a chart's legend (its series' labels) and write the picture out.
fn legend_and_present<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    root: &DrawingArea<DB, plotters::coord::Shift>,
) -> std::io::Result<()> {
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(plot_err)?;
    root.present().map_err(plot_err)
}

/// Draw `bandwidth.svg` (the recorded series of every run over time, in kB/s: figure 6;
/// without recorded series, the load of every link direction that carried traffic)
/// and, when there are players, `gaps.svg` (each run's gaps per phase: figure 7).
pub fn plot(dir: &Path, runs: &[Report]) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let Some(first) = runs.first() else { return Ok(written) };
    // The recorded series; without any, the load of every link direction that
    // carried something.
    let recorded = first.series.len() - first.links.len();
    let shown: Vec<usize> = if recorded > 0 {
        (0..recorded).collect()
    } else {
        (recorded..first.series.len()).filter(|&i| first.series[i].values.iter().any(|&v| v > 0.0)).collect()
    };
    let end = first.series.first().map_or(0.0, |s| s.values.len() as f64 * first.bin_s);
    // The first run (the adapted one) is drawn last, on top.
    let lines: Vec<(String, Vec<(f64, f64)>)> = runs
        .iter()
        .rev()
        .flat_map(|r| {
            shown.iter().map(move |&i| {
                let s = &r.series[i];
                let pts = s.values.iter().enumerate().map(|(i, v)| ((i as f64 + 0.5) * r.bin_s, v / 1000.0)).collect();
                (format!("{} ({})", s.name, r.label), pts)
            })
        })
        .collect();
    if !lines.is_empty() {
        let ymax = lines.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)).fold(1.0f64, f64::max) * 1.1;
        let path = dir.join("bandwidth.svg");
        {
            let root = SVGBackend::new(&path, (960, 540)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_err)?;
            let mut chart = ChartBuilder::on(&root)
                .caption("Bandwidth of the recorded traffic", ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..end, 0.0..ymax)
                .map_err(plot_err)?;
            chart.configure_mesh().x_desc("time (s)").y_desc("kB/s").draw().map_err(plot_err)?;
            for (i, (name, pts)) in lines.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(plot_err)?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
            legend_and_present(&mut chart, &root)?;
        }
        written.push(path.display().to_string());
    }
    if first.players.is_empty() {
        return Ok(written);
    }
    let path = dir.join("gaps.svg");
    {
        let phases = first.phases.len();
        let ymax = runs.iter().flat_map(|r| r.players.iter().flat_map(|p| p.gaps.iter().copied())).max().unwrap_or(0)
            as f64
            * 1.15
            + 1.0;
        let root = SVGBackend::new(&path, (960, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let labels: Vec<String> = first.phases.iter().map(|(a, b)| format!("{a:.0} s to {b:.0} s")).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption("Gaps in audio playback per load phase", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..phases as f64, 0.0..ymax)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(phases * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.01 && i < labels.len() { labels[i].clone() } else { String::new() }
            })
            .y_desc("silent periods")
            .draw()
            .map_err(plot_err)?;
        let bars = runs.len() * first.players.len();
        let width = 0.8 / bars as f64;
        let mut k = 0;
        for r in runs {
            for p in &r.players {
                let color = Palette99::pick(k).to_rgba();
                let x0 = 0.1 + k as f64 * width;
                chart
                    .draw_series(p.gaps.iter().enumerate().map(|(i, &g)| {
                        Rectangle::new([(i as f64 + x0, 0.0), (i as f64 + x0 + width * 0.9, g as f64)], color.filled())
                    }))
                    .map_err(plot_err)?
                    .label(format!("{}:{} ({})", p.node, p.port, r.label))
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
                k += 1;
            }
        }
        legend_and_present(&mut chart, &root)?;
    }
    written.push(path.display().to_string());
    Ok(written)
}
