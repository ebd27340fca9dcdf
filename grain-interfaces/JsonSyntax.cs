using System.Text.Json;

namespace AnalyticsEngine;

/// <summary>What the JSON reader found wrong with a document, in words for the caller who sent it.</summary>
public static class JsonSyntax
{
    /// <summary>
    /// The reader's reason without its position (which callers name once, counted from 1) and without its advice to the
    /// programmer ("Change the reader options"), which a caller cannot act on: what JSON does not allow is said as such.
    /// </summary>
    public static string Reason(JsonException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var message = exception.Message;
        foreach (var suffix in new[] { " Path:", " LineNumber:" })
        {
            var at = message.IndexOf(suffix, StringComparison.Ordinal);
            if (at >= 0)
            {
                message = message[..at];
            }
        }

        return message
            .Replace(" which is not supported in this mode", ", which JSON does not allow", StringComparison.Ordinal)
            .Replace(" Change the reader options.", "", StringComparison.Ordinal)
            .TrimEnd(' ', '|', '.');
    }
}
