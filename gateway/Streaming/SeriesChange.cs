using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// The values of one series that one push carries, oldest bucket first, and the <c>kpiChanged</c> message with
/// them. The message is serialized at most once per protocol (JSON, MessagePack) however many connections it is
/// written to, so a change costs one serialization whatever the number of viewers.
/// </summary>
public sealed class SeriesChange
{
    public SeriesChange(WatchKey series, KpiValue[] values)
    {
        Series = series;
        Values = values;
        Message = new SerializedHubMessage(new InvocationMessage(KpiHub.ChangedMethod, [values]));
    }

    public WatchKey Series { get; }

    public IReadOnlyList<KpiValue> Values { get; }

    public SerializedHubMessage Message { get; }
}
