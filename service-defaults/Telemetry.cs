using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AnalyticsEngine.ServiceDefaults;

/// <summary>The product's own activity source and meter, shared by every host.</summary>
public static class Telemetry
{
    public const string ActivitySourceName = "AnalyticsEngine";
    public const string MeterName = "AnalyticsEngine";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);
}
