using System.Globalization;
using AnalyticsEngine.Batch;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// How <c>GET /batch/jobs</c> names where its next page starts (its <c>after</c> parameter): the last listed job's
/// creation time in Unix microseconds, as stored, and its id, e.g. <c>1795939200123456_0f3c…</c>.
/// </summary>
internal static class JobCursor
{
    public static string Format(BatchJobCursor cursor) =>
        ((cursor.CreatedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10).ToString(CultureInfo.InvariantCulture) + "_" + cursor.JobId;

    /// <summary>The cursor, or null when <paramref name="text"/> is not one this list gave.</summary>
    public static BatchJobCursor? Parse(string text)
    {
        var separator = text.IndexOf('_', StringComparison.Ordinal);
        if (separator < 1
            || !long.TryParse(text.AsSpan(0, separator), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var micros)
            || micros < (DateTimeOffset.MinValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10
            || micros > (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10)
        {
            return null;
        }

        // The id is only compared with stored ones; the gateway's own are 32 hexadecimal digits.
        var jobId = text[(separator + 1)..];
        return jobId.Length is > 0 and <= MaxJobIdLength && !InputText.HasControlCharacters(jobId)
            ? new BatchJobCursor(DateTimeOffset.UnixEpoch.AddTicks(micros * 10), jobId)
            : null;
    }

    private const int MaxJobIdLength = 200;
}
