using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ClinicFlow.Benchmarks;

/// <summary>
/// Code-level comparisons of the app's hot paths against the baseline each replaced, in one run
/// (bench/README.md, bench/code.sh). Arguments are BenchmarkDotNet's: no <c>--filter</c> runs every
/// class; no <c>--job</c> runs the job below, sized for a shared 2-core machine.
/// </summary>
public static class Program
{
    /// <summary>
    /// One process per benchmark, 3 warm-up and 12 measured iterations of about 0.5 s: the whole set
    /// (12 cases) in about 3–4 minutes on 2 cores, the harness's Release build included. Marked as the
    /// default job, so options such as <c>--iterationCount 5</c> adjust it rather than add a second job.
    /// </summary>
    public static Job TwoCoreJob { get; } = Job.Default
        .WithId("TwoCore")
        .WithLaunchCount(1)
        .WithWarmupCount(3)
        .WithIterationCount(12)
        .AsDefault();

    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        // Ratios as "12.34x faster" / "1.46x slower": a two-decimal 0.01 would hide a hundredfold gain.
        IConfig config = DefaultConfig.Instance.WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend));
        if (!args.Any(a => a is "--job" or "-j"))
        {
            // With --job short or --job dry the named job runs alone.
            config = config.AddJob(TwoCoreJob);
        }

        if (!args.Any(a => a is "--filter" or "-f" or "--list" or "--help" or "-h" or "--version"))
        {
            // Without a filter BenchmarkDotNet asks which class to run; a script cannot answer.
            args = [.. args, "--filter", "*"];
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
