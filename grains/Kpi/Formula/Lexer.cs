using System.Globalization;

namespace AnalyticsEngine.Kpi.Formula;

/// <summary>Turns formula text into tokens; problems become <see cref="TokenKind.Invalid"/> tokens plus an error.</summary>
internal sealed class Lexer(string source, List<FormulaError> errors)
{
    private int _position;

    public List<Token> Tokenize()
    {
        var tokens = new List<Token>();
        while (true)
        {
            var token = Next();
            tokens.Add(token);
            if (token.Kind == TokenKind.End)
            {
                return tokens;
            }
        }
    }

    private Token Next()
    {
        SkipWhitespace();
        if (_position >= source.Length)
        {
            return new Token(TokenKind.End, new SourceSpan(source.Length, 0), "end of formula");
        }

        var start = _position;
        var c = source[_position];
        if (char.IsDigit(c) || (c == '.' && _position + 1 < source.Length && char.IsDigit(source[_position + 1])))
        {
            return ReadNumber(start);
        }

        if (char.IsLetter(c) || c == '_')
        {
            while (_position < source.Length && (char.IsLetterOrDigit(source[_position]) || source[_position] == '_'))
            {
                _position++;
            }

            return Make(TokenKind.Identifier, start);
        }

        if (c == '\'')
        {
            return ReadString(start);
        }

        _position++;
        var kind = c switch
        {
            '(' => TokenKind.LeftParen,
            ')' => TokenKind.RightParen,
            ',' => TokenKind.Comma,
            '.' => TokenKind.Dot,
            '+' => TokenKind.Plus,
            '-' => TokenKind.Minus,
            '*' => TokenKind.Star,
            '/' => TokenKind.Slash,
            '=' => TokenKind.Equal,
            '<' when Peek('=') => TokenKind.LessOrEqual,
            '<' when Peek('>') => TokenKind.NotEqual,
            '<' => TokenKind.Less,
            '>' when Peek('=') => TokenKind.GreaterOrEqual,
            '>' => TokenKind.Greater,
            '!' when Peek('=') => TokenKind.NotEqual,
            _ => TokenKind.Invalid,
        };
        if (kind == TokenKind.Invalid)
        {
            errors.Add(FormulaError.At(source, new SourceSpan(start, 1), $"unexpected character '{c}'"));
        }

        return Make(kind, start);
    }

    private bool Peek(char expected)
    {
        if (_position < source.Length && source[_position] == expected)
        {
            _position++;
            return true;
        }

        return false;
    }

    private void SkipWhitespace()
    {
        while (_position < source.Length)
        {
            if (char.IsWhiteSpace(source[_position]))
            {
                _position++;
            }
            else
            {
                return;
            }
        }
    }

    private Token ReadNumber(int start)
    {
        while (_position < source.Length && char.IsDigit(source[_position]))
        {
            _position++;
        }

        if (_position < source.Length && source[_position] == '.')
        {
            _position++;
            while (_position < source.Length && char.IsDigit(source[_position]))
            {
                _position++;
            }
        }

        if (_position < source.Length && (source[_position] == 'e' || source[_position] == 'E'))
        {
            var save = _position;
            _position++;
            if (_position < source.Length && (source[_position] == '+' || source[_position] == '-'))
            {
                _position++;
            }

            if (_position < source.Length && char.IsDigit(source[_position]))
            {
                while (_position < source.Length && char.IsDigit(source[_position]))
                {
                    _position++;
                }
            }
            else
            {
                _position = save;
            }
        }

        var text = source[start.._position];
        var value = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!double.IsFinite(value))
        {
            errors.Add(FormulaError.At(source, new SourceSpan(start, text.Length), $"number '{text}' is too large"));
            value = 0;
        }

        return new Token(TokenKind.Number, new SourceSpan(start, text.Length), text, value);
    }

    private Token ReadString(int start)
    {
        var builder = new System.Text.StringBuilder();
        _position++;
        while (_position < source.Length)
        {
            var c = source[_position++];
            if (c == '\'')
            {
                // A doubled quote is a quote inside the string, as in SQL.
                if (_position < source.Length && source[_position] == '\'')
                {
                    builder.Append('\'');
                    _position++;
                    continue;
                }

                return new Token(TokenKind.String, new SourceSpan(start, _position - start), builder.ToString());
            }

            builder.Append(c);
        }

        errors.Add(FormulaError.At(source, new SourceSpan(start, 1), "text literal is not closed with a single quote (')"));
        return new Token(TokenKind.Invalid, new SourceSpan(start, _position - start), builder.ToString());
    }

    private Token Make(TokenKind kind, int start) =>
        new(kind, new SourceSpan(start, _position - start), source[start.._position]);
}
