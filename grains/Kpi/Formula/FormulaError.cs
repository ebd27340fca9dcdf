namespace AnalyticsEngine.Kpi.Formula;

/// <summary>
/// One problem found in a formula. <see cref="Line"/> and <see cref="Column"/> are 1-based;
/// <see cref="Excerpt"/> is the offending source line followed by a caret line under the spot, ready to show in a
/// monospaced font.
/// </summary>
public sealed record FormulaError(int Line, int Column, string Message, string Excerpt)
{
    private const int MaxExcerptWidth = 120;

    /// <summary>Offset of the spot in the formula text (0-based), for sorting and tooling.</summary>
    public int Offset { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"({Line},{Column}): {Message}\n{Excerpt}";

    internal static FormulaError At(string source, SourceSpan span, string message)
    {
        var offset = Math.Clamp(span.Start, 0, source.Length);
        var lineStart = offset == 0 ? 0 : source.LastIndexOf('\n', offset - 1) + 1;
        var lineEnd = source.IndexOf('\n', offset);
        if (lineEnd < 0)
        {
            lineEnd = source.Length;
        }

        var line = 1;
        for (var i = 0; i < lineStart; i++)
        {
            if (source[i] == '\n')
            {
                line++;
            }
        }

        var lineText = source[lineStart..lineEnd].TrimEnd('\r');
        var column = offset - lineStart + 1;

        // A very long line is cut to a window around the spot, marked with an ellipsis, so excerpts stay readable.
        var from = 0;
        var prefix = string.Empty;
        if (lineText.Length > MaxExcerptWidth)
        {
            from = Math.Clamp(column - 1 - (MaxExcerptWidth / 2), 0, Math.Max(0, lineText.Length - MaxExcerptWidth));
            prefix = from > 0 ? "…" : string.Empty;
            var to = Math.Min(lineText.Length, from + MaxExcerptWidth);
            lineText = prefix + lineText[from..to] + (to < lineEnd - lineStart ? "…" : string.Empty);
        }

        var caretWidth = Math.Max(1, Math.Min(span.Length, lineText.Length - prefix.Length - (offset - lineStart - from)));
        var caret = new System.Text.StringBuilder(lineText.Length + 2);
        caret.Append(' ', prefix.Length);
        for (var i = lineStart + from; i < offset && i - lineStart < lineEnd - lineStart; i++)
        {
            // Keep tabs so the caret lines up with the source in any tab width.
            caret.Append(source[i] == '\t' ? '\t' : ' ');
        }

        caret.Append('^', caretWidth);
        return new FormulaError(line, column, message, lineText + "\n" + caret) { Offset = offset };
    }
}

/// <summary>A range of characters in the formula source: <see cref="Start"/> offset and <see cref="Length"/>.</summary>
public readonly record struct SourceSpan(int Start, int Length)
{
    /// <summary>Offset just past the span.</summary>
    public int End => Start + Length;

    /// <summary>The smallest span covering both spans.</summary>
    public SourceSpan To(SourceSpan other) => new(Start, Math.Max(End, other.End) - Start);
}
