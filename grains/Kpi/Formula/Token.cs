namespace AnalyticsEngine.Kpi.Formula;

/// <summary>The lexical categories of the formula language. Keywords are identifiers recognised by the parser.</summary>
internal enum TokenKind
{
    End,
    Number,
    String,
    Identifier,
    LeftParen,
    RightParen,
    Comma,
    Dot,
    Plus,
    Minus,
    Star,
    Slash,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Invalid,
}

internal readonly record struct Token(TokenKind Kind, SourceSpan Span, string Text, double Number = 0)
{
    public bool IsKeyword(string keyword) =>
        Kind == TokenKind.Identifier && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);
}
