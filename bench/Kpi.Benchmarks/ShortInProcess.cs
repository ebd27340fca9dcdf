using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace AnalyticsEngine.Kpi.Benchmarks;

/// <summary>
/// A short run inside this process: no generated project to build (which can take minutes on a busy machine with the
/// Orleans code generator), and a few minutes in all. Every benchmark class here runs with it.
/// </summary>
internal sealed class ShortInProcess : ManualConfig
{
    public ShortInProcess() => AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
}
