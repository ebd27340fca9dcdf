using System.Globalization;

namespace AnalyticsEngine.FanoutDriver;

/// <summary>Command-line settings of the fan-out driver.</summary>
public sealed record FanoutOptions(
    Uri Gateway,
    Uri? Silo,
    string? Token,
    int? GatewayPid,
    int Clients,
    int Kpis,
    int Connections,
    int OrdersPerPost,
    TimeSpan Warmup,
    TimeSpan Window,
    int ConnectConcurrency,
    int MarginalViewers,
    bool LeanClient)
{
    /// <summary>Catalog KPIs that read orders, so one order changes every one of them.</summary>
    public static readonly string[] OrderKpis =
    [
        "SCOR_ORDER_COUNT", "POF", "OTD", "SCOR_IN_FULL_RATE", "SCOR_DAMAGE_FREE_RATE", "SCOR_DOCUMENTATION_ACCURACY",
        "SCOR_ORDER_FULFILLMENT_CYCLE_TIME", "SCOR_AVG_DELIVERY_DELAY", "SCOR_AVG_ORDER_VALUE", "SCOR_CANCELLATION_RATE",
        "SCOR_RETURN_RATE", "SCOR_REFUND_RATE",
    ];

    /// <summary>Watched series: every KPI of every client at minute granularity.</summary>
    public int Series => Clients * Kpis;

    public static FanoutOptions Parse(string[] args)
    {
        string? Value(string name)
        {
            var index = Array.IndexOf(args, name);
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }

        int Int(string name, int fallback) => Value(name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

        var options = new FanoutOptions(
            new Uri(Value("--gateway") ?? "http://127.0.0.1:5080/"),
            Value("--silo") is { } silo ? new Uri(silo) : null,
            Value("--token") ?? Environment.GetEnvironmentVariable("AE_TOKEN"),
            Value("--gateway-pid") is { } pid ? int.Parse(pid, CultureInfo.InvariantCulture) : null,
            Int("--clients", 100),
            Int("--kpis", 10),
            Int("--connections", 1000),
            Int("--orders-per-post", 1),
            TimeSpan.FromSeconds(Int("--warmup", 20)),
            TimeSpan.FromSeconds(Int("--seconds", 60)),
            Int("--connect-concurrency", 32),
            Int("--marginal", 100),
            (Value("--client") ?? "lean") switch
            {
                "lean" => true,
                "signalr" => false,
                var other => throw new ArgumentException($"--client must be 'lean' or 'signalr', not '{other}'"),
            });
        if (options.Kpis < 1 || options.Kpis > OrderKpis.Length)
        {
            throw new ArgumentException($"--kpis must be between 1 and {OrderKpis.Length}");
        }

        return options;
    }
}
