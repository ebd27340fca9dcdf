using System.Globalization;
using Npgsql;

namespace AnalyticsEngine.PipelineBench;

/// <summary>Command-line options; every figure the report prints depends only on these.</summary>
public sealed record BenchOptions
{
    public int Clients { get; init; } = 1_000;

    public int Kpis { get; init; } = 20;

    public int BatchSize { get; init; } = 100;

    /// <summary>Batches in flight at once, in the raw COPY phase and the sustained phase alike.</summary>
    public int Concurrency { get; init; } = 32;

    /// <summary>Length of each measured phase: raw COPY, sustained pipeline, half-rate latency.</summary>
    public int Seconds { get; init; } = 60;

    public string Database { get; init; } = "analytics_bench";

    /// <summary>Body format the ingest grain parses, as the HTTP API would pass it on: json or csv.</summary>
    public string Format { get; init; } = "json";

    /// <summary>Clients whose first KPI is watched through its KPI grain, to check pushes and time them.</summary>
    public int Watch { get; init; } = 20;

    /// <summary>When positive: only this many query calls of each kind (<see cref="PipelineRun"/>, "archive check"), no pipeline.</summary>
    public int QueryCalls { get; init; }

    /// <summary>Empty the benchmark database's event tables and grain state first, so every run starts alike.</summary>
    public bool Fresh { get; init; } = true;

    /// <summary>Extra silo configuration, <c>Section:Key=value</c>, e.g. <c>ClientKpi:GapCheckInterval=00:01:00</c>.</summary>
    public IReadOnlyList<string> SiloSettings { get; init; } = [];

    public int SiloPort { get; init; } = 11300;

    public int GatewayPort { get; init; } = 30300;

    public int HttpPort { get; init; } = 5300;

    /// <summary>Server, port and credentials; the database name is replaced by <see cref="Database"/>.</summary>
    public string Postgres { get; init; } = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres") is { Length: > 0 } configured
        ? configured
        : "Host=127.0.0.1;Port=55432;Username=analytics;Password=analytics;Database=analytics";

    public string Redis { get; init; } = Environment.GetEnvironmentVariable("ConnectionStrings__Redis") is { Length: > 0 } configured
        ? configured
        : "127.0.0.1:56379";

    /// <summary>
    /// Connections per pool (the silo has two: its data source and the grain storage). The server is shared:
    /// the default of 100 each, under a starved CPU, once took the connections other users needed.
    /// </summary>
    public int MaxPoolSize { get; init; } = 48;

    public string ConnectionString => new NpgsqlConnectionStringBuilder(Postgres)
    {
        Database = Database,
        MaxPoolSize = MaxPoolSize,
        ApplicationName = "pipeline-bench",
    }.ConnectionString;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            options = args[i] switch
            {
                "--clients" => options with { Clients = Int() },
                "--kpis" => options with { Kpis = Int() },
                "--batch-size" => options with { BatchSize = Int() },
                "--concurrency" => options with { Concurrency = Int() },
                "--seconds" => options with { Seconds = Int() },
                "--database" => options with { Database = Next() },
                "--format" => options with { Format = Next() },
                "--watch" => options with { Watch = Int() },
                "--query-calls" => options with { QueryCalls = Int() },
                "--keep" => options with { Fresh = false },
                "--max-pool-size" => options with { MaxPoolSize = Int() },
                "--silo-setting" => options with { SiloSettings = [.. options.SiloSettings, Next()] },
                "--silo-port" => options with { SiloPort = Int() },
                "--gateway-port" => options with { GatewayPort = Int() },
                "--http-port" => options with { HttpPort = Int() },
                _ => throw new ArgumentException($"unknown option {args[i]}; see the comment at the top of Program.cs"),
            };
        }

        if (options.Clients < 1 || options.BatchSize < 1 || options.Concurrency < 1 || options.Seconds < 1)
        {
            throw new ArgumentException("--clients, --batch-size, --concurrency and --seconds must be positive");
        }

        if (options.MaxPoolSize < options.Concurrency + 8)
        {
            throw new ArgumentException("--max-pool-size must leave room beyond --concurrency for the client grains' reads (at least --concurrency + 8)");
        }

        if (options.Kpis < 1 || options.Kpis > Workload.KpiCount)
        {
            throw new ArgumentException($"--kpis must be between 1 and {Workload.KpiCount}");
        }

        if (options.Format is not ("json" or "csv"))
        {
            throw new ArgumentException("--format must be json or csv");
        }

        if (options.Fresh && options.Database is "analytics" or "analytics_test")
        {
            throw new ArgumentException($"--database {options.Database} is shared; the benchmark empties its tables. Use a database of its own.");
        }

        return options;
    }
}
