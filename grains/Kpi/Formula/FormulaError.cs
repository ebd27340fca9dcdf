namespace AnalyticsEngine.Kpi.Formula;

/// <summary>
/// One problem found in a formula. <see cref="Line"/> and <see cref="Column"/> are 1-based;
/// <see cref="Excerpt"/> is the offending source line followed by a caret line under the spot, ready to show in a
/// monospaced font.
/// </summary>
public sealed record FormulaError(int Line, int Column, string Message, string Excerpt)
{
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
        var caretWidth = Math.Max(1, Math.Min(span.Length, lineText.Length - (offset - lineStart)));
        var caret = new System.Text.StringBuilder(lineText.Length + 2);
        for (var i = lineStart; i < offset && i - lineStart < lineText.Length; i++)
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
