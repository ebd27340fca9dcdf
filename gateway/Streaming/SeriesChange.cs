using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// One message about one series for a connection: the values one push carries (<c>kpiChanged</c>, oldest bucket
/// first), or the series replaced as a whole (<c>kpiReset</c>, <c>kpiEnded</c>). The message is serialized at most
/// once per protocol (JSON, MessagePack) however many connections it is written to, so a change costs one
/// serialization whatever the number of viewers.
/// </summary>
public sealed class SeriesChange
{
    public SeriesChange(WatchKey series, KpiValue[] values)
        : this(series, values, KpiHub.ChangedMethod, values, replacesSeries: false)
    {
    }

    private SeriesChange(WatchKey series, KpiValue[] values, string method, object argument, bool replacesSeries)
    {
        Series = series;
        Values = values;
        ReplacesSeries = replacesSeries;
        Message = new SerializedHubMessage(new InvocationMessage(method, [argument]));
    }

    /// <summary>The series rebuilt under a new definition: viewers drop what they hold and keep this snapshot.</summary>
    public static SeriesChange Reset(WatchKey series, KpiSnapshot snapshot) =>
        new(series, [], KpiHub.ResetMethod, snapshot, replacesSeries: true);

    /// <summary>The series is no longer computed: viewers drop it, and why.</summary>
    public static SeriesChange Ended(WatchKey series, string reason) =>
        new(series, [], KpiHub.EndedMethod, new KpiSeriesEnded(series.ClientId, series.KpiCode, series.Granularity, reason), replacesSeries: true);

    public WatchKey Series { get; }

    /// <summary>The pushed values (none for a message that replaces the series).</summary>
    public IReadOnlyList<KpiValue> Values { get; }

    /// <summary>Whether the message makes whatever was pushed of the series before it void.</summary>
    public bool ReplacesSeries { get; }

    public SerializedHubMessage Message { get; }
}

/// <summary>The <c>kpiEnded</c> message: a series the connection viewed is no longer computed, and why.</summary>
public sealed record KpiSeriesEnded(string ClientId, string KpiCode, Granularity Granularity, string Reason);
