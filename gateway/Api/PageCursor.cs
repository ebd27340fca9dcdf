using System.Globalization;
using AnalyticsEngine.Batch;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// How a list read newest first names where its next page starts (its <c>after</c> parameter): the last listed item's
/// time in Unix microseconds, as stored, and what breaks ties between items of the same time, e.g.
/// <c>1795939200123456_0f3c…</c>.
/// </summary>
internal static class PageCursor
{
    public static string Format(DateTimeOffset at, string tiebreak) =>
        ((at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10).ToString(CultureInfo.InvariantCulture) + "_" + tiebreak;

    /// <summary>
    /// The time and tie-break, or null when <paramref name="text"/> is not a cursor <see cref="Format"/> writes: a time
    /// after 1970 (so no sign) in digits without padding, and a tie-break <paramref name="isTiebreak"/> accepts. Anything
    /// else was not given by the list, and read loosely it would start a page somewhere the caller did not mean (a
    /// negative time before every item: the first page again).
    /// </summary>
    public static (DateTimeOffset At, string Tiebreak)? Parse(string text, Func<string, bool> isTiebreak)
    {
        var separator = text.IndexOf('_', StringComparison.Ordinal);
        if (separator < 1
            || !long.TryParse(text.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var micros)
            || micros > (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10
            || !isTiebreak(text[(separator + 1)..]))
        {
            return null;
        }

        var at = DateTimeOffset.UnixEpoch.AddTicks(micros * 10);
        var tiebreak = text[(separator + 1)..];
        // Leading zeros read as the same time but are not how a page names the next one.
        return string.Equals(Format(at, tiebreak), text, StringComparison.Ordinal) ? (at, tiebreak) : null;
    }
}

/// <summary>How <c>GET /batch/jobs</c> names its next page: the last job's creation time and its id.</summary>
internal static class JobCursor
{
    public static string Format(BatchJobCursor cursor) => PageCursor.Format(cursor.CreatedAt, cursor.JobId);

    public static BatchJobCursor? Parse(string text) =>
        PageCursor.Parse(text, JobIds.IsJobId) is { } cursor ? new BatchJobCursor(cursor.At, cursor.Tiebreak) : null;
}

/// <summary>Job ids as the gateway makes them when a job is scheduled: a GUID's 32 lowercase hexadecimal digits.</summary>
internal static class JobIds
{
    public static string New() => Guid.NewGuid().ToString("N");

    public static bool IsJobId(string text) => text.Length == 32 && text.All(char.IsAsciiHexDigitLower);
}
