namespace AnalyticsEngine.Kpi.Formula;

/// <summary>
/// Recursive-descent parser for the formula language (grammar in docs/kpi-language.md). It recovers from a bad
/// token by reporting it and standing an <see cref="ErrorNode"/> in its place, so one pass reports every problem.
/// </summary>
internal sealed class Parser
{
    /// <summary>Deeper nesting is refused: no sane KPI needs it, and it bounds the recursion.</summary>
    public const int MaxDepth = 64;

    private const int MaxErrors = 50;

    private readonly string _source;
    private readonly List<Token> _tokens;
    private readonly List<FormulaError> _errors;
    private int _index;
    private int _depth;
    private int _lastErrorOffset = -1;

    public Parser(string source, List<FormulaError> errors)
    {
        _source = source;
        _errors = errors;
        _tokens = new Lexer(source, errors).Tokenize();
    }

    private Token Current => _tokens[_index];

    public FormulaNode? ParseFormula()
    {
        try
        {
            var node = ParseExpression();
            if (Current.Kind != TokenKind.End)
            {
                Error(Current.Span, $"unexpected {Describe(Current)} after the end of the expression");
            }

            return node;
        }
        catch (TooDeepException)
        {
            return null;
        }
    }

    private FormulaNode ParseExpression()
    {
        if (++_depth > MaxDepth)
        {
            // Report once and unwind: anything parsed further would only repeat the same complaint.
            _errors.Add(FormulaError.At(_source, Current.Span, $"formula nests deeper than {MaxDepth} levels"));
            throw new TooDeepException();
        }

        try
        {
            return ParseOr();
        }
        finally
        {
            _depth--;
        }
    }

    private FormulaNode ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsKeyword("or"))
        {
            var op = Advance();
            var right = ParseAnd();
            left = new BinaryExpression(BinaryOperator.Or, left, right, left.Span.To(right.Span), op.Span);
        }

        return left;
    }

    private FormulaNode ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsKeyword("and"))
        {
            var op = Advance();
            var right = ParseNot();
            left = new BinaryExpression(BinaryOperator.And, left, right, left.Span.To(right.Span), op.Span);
        }

        return left;
    }

    private FormulaNode ParseNot()
    {
        if (Current.IsKeyword("not"))
        {
            var op = Advance();
            var operand = Nested(ParseNot);
            return new UnaryExpression(UnaryOperator.Not, operand, op.Span.To(operand.Span));
        }

        return ParsePredicate();
    }

    private FormulaNode ParsePredicate()
    {
        var left = ParseAdditive();
        if (ComparisonOperator(Current.Kind) is { } comparison)
        {
            var op = Advance();
            var right = ParseAdditive();
            return new BinaryExpression(comparison, left, right, left.Span.To(right.Span), op.Span);
        }

        if (Current.IsKeyword("is"))
        {
            Advance();
            var negated = false;
            if (Current.IsKeyword("not"))
            {
                Advance();
                negated = true;
            }

            var nullToken = Current;
            if (!Current.IsKeyword("null"))
            {
                Error(Current.Span, $"expected 'null' after 'is{(negated ? " not" : string.Empty)}', found {Describe(Current)}");
            }
            else
            {
                Advance();
            }

            return new IsNullExpression(left, negated, left.Span.To(nullToken.Span));
        }

        var notIn = Current.IsKeyword("not") && Peek(1).IsKeyword("in");
        if (notIn || Current.IsKeyword("in"))
        {
            if (notIn)
            {
                Advance();
            }

            Advance();
            var values = new List<FormulaNode>();
            var close = Current.Span;
            if (Expect(TokenKind.LeftParen, "'(' to open the list after 'in'"))
            {
                do
                {
                    values.Add(ParseLiteral());
                }
                while (Accept(TokenKind.Comma));

                close = Current.Span;
                Expect(TokenKind.RightParen, "')' to close the 'in' list");
            }

            return new InExpression(left, values, notIn, left.Span.To(close));
        }

        return left;
    }

    private FormulaNode ParseLiteral()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Number:
                Advance();
                return new NumberLiteral(token.Number, token.Span);
            case TokenKind.Minus when Peek(1).Kind == TokenKind.Number:
                Advance();
                var number = Advance();
                return new NumberLiteral(-number.Number, token.Span.To(number.Span));
            case TokenKind.String:
                Advance();
                return new StringLiteral(token.Text, token.Span);
            case TokenKind.Identifier when token.IsKeyword("true") || token.IsKeyword("false"):
                Advance();
                return new BooleanLiteral(token.IsKeyword("true"), token.Span);
            default:
                Error(token.Span, $"expected a number, 'text' or true/false in the 'in' list, found {Describe(token)}");
                SkipUnlessClosing();
                return new ErrorNode(token.Span);
        }
    }

    private FormulaNode ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (Current.Kind is TokenKind.Plus or TokenKind.Minus)
        {
            var op = Advance();
            var right = ParseMultiplicative();
            var kind = op.Kind == TokenKind.Plus ? BinaryOperator.Add : BinaryOperator.Subtract;
            left = new BinaryExpression(kind, left, right, left.Span.To(right.Span), op.Span);
        }

        return left;
    }

    private FormulaNode ParseMultiplicative()
    {
        var left = ParseUnary();
        while (Current.Kind is TokenKind.Star or TokenKind.Slash)
        {
            var op = Advance();
            var right = ParseUnary();
            var kind = op.Kind == TokenKind.Star ? BinaryOperator.Multiply : BinaryOperator.Divide;
            left = new BinaryExpression(kind, left, right, left.Span.To(right.Span), op.Span);
        }

        return left;
    }

    private FormulaNode ParseUnary()
    {
        if (Current.Kind == TokenKind.Minus)
        {
            var op = Advance();
            var operand = Nested(ParseUnary);
            return new UnaryExpression(UnaryOperator.Negate, operand, op.Span.To(operand.Span));
        }

        if (Current.Kind == TokenKind.Plus)
        {
            Advance();
            return Nested(ParseUnary);
        }

        return ParsePrimary();
    }

    private FormulaNode ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Number:
                Advance();
                return new NumberLiteral(token.Number, token.Span);
            case TokenKind.String:
                Advance();
                return new StringLiteral(token.Text, token.Span);
            case TokenKind.LeftParen:
            {
                Advance();
                var inner = ParseExpression();
                Expect(TokenKind.RightParen, "')' to close '('");
                return inner;
            }

            case TokenKind.Identifier:
                return ParseName();
            default:
                Error(token.Span, $"expected a number, a field, an aggregate such as count(...) or '(', found {Describe(token)}");
                SkipUnlessClosing();
                return new ErrorNode(token.Span);
        }
    }

    private FormulaNode ParseName()
    {
        var name = Advance();
        if (name.IsKeyword("true") || name.IsKeyword("false"))
        {
            return new BooleanLiteral(name.IsKeyword("true"), name.Span);
        }

        if (Current.Kind == TokenKind.LeftParen)
        {
            return ParseCall(name);
        }

        if (IsReserved(name.Text))
        {
            Error(name.Span, $"unexpected keyword '{name.Text}'");
            return new ErrorNode(name.Span);
        }

        if (Accept(TokenKind.Dot))
        {
            var field = Current;
            if (field.Kind != TokenKind.Identifier)
            {
                Error(field.Span, $"expected a field name after '{name.Text}.', found {Describe(field)}");
                return new ErrorNode(name.Span);
            }

            Advance();
            return new FieldReference(name.Text, field.Text, name.Span.To(field.Span), field.Span);
        }

        return new ObjectReference(name.Text, name.Span);
    }

    private FormulaNode ParseCall(Token name)
    {
        Advance(); // '('
        if (AggregateByName(name.Text) is { } aggregate)
        {
            var argument = ParseExpression();
            var end = Current.Span;
            Expect(TokenKind.RightParen, $"')' to close {name.Text}(");
            FormulaNode? filter = null;
            if (Current.IsKeyword("filter"))
            {
                Advance();
                Expect(TokenKind.LeftParen, "'(' after 'filter'");
                if (Current.IsKeyword("where"))
                {
                    Advance();
                }
                else
                {
                    Error(Current.Span, $"expected 'where' after 'filter (', found {Describe(Current)}");
                }

                filter = ParseExpression();
                end = Current.Span;
                Expect(TokenKind.RightParen, "')' to close 'filter ('");
            }

            return new AggregateExpression(aggregate, argument, filter, name.Span.To(end), name.Span);
        }

        var function = FunctionByName(name.Text);
        if (function is null)
        {
            Error(name.Span, $"unknown function '{name.Text}'; known: sum, count, avg, min, max, count_distinct, round, abs, coalesce, least, greatest");
        }

        var arguments = new List<FormulaNode>();
        if (Current.Kind != TokenKind.RightParen)
        {
            do
            {
                arguments.Add(ParseExpression());
            }
            while (Accept(TokenKind.Comma));
        }

        var close = Current.Span;
        Expect(TokenKind.RightParen, $"')' to close {name.Text}(");
        var span = name.Span.To(close);
        return function is { } known ? new FunctionCall(known, arguments, span) : new ErrorNode(span);
    }

    private FormulaNode Nested(Func<FormulaNode> parse)
    {
        if (++_depth > MaxDepth)
        {
            _errors.Add(FormulaError.At(_source, Current.Span, $"formula nests deeper than {MaxDepth} levels"));
            throw new TooDeepException();
        }

        try
        {
            return parse();
        }
        finally
        {
            _depth--;
        }
    }

    private static AggregateFunction? AggregateByName(string name) => name.ToLowerInvariant() switch
    {
        "sum" => AggregateFunction.Sum,
        "count" => AggregateFunction.Count,
        "avg" => AggregateFunction.Avg,
        "min" => AggregateFunction.Min,
        "max" => AggregateFunction.Max,
        "count_distinct" => AggregateFunction.CountDistinct,
        _ => null,
    };

    private static ScalarFunction? FunctionByName(string name) => name.ToLowerInvariant() switch
    {
        "round" => ScalarFunction.Round,
        "abs" => ScalarFunction.Abs,
        "coalesce" => ScalarFunction.Coalesce,
        "least" => ScalarFunction.Least,
        "greatest" => ScalarFunction.Greatest,
        _ => null,
    };

    private static bool IsReserved(string name) => name.ToLowerInvariant() is
        "and" or "or" or "not" or "in" or "is" or "null" or "filter" or "where";

    private static BinaryOperator? ComparisonOperator(TokenKind kind) => kind switch
    {
        TokenKind.Equal => BinaryOperator.Equal,
        TokenKind.NotEqual => BinaryOperator.NotEqual,
        TokenKind.Less => BinaryOperator.Less,
        TokenKind.LessOrEqual => BinaryOperator.LessOrEqual,
        TokenKind.Greater => BinaryOperator.Greater,
        TokenKind.GreaterOrEqual => BinaryOperator.GreaterOrEqual,
        _ => null,
    };

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the formula",
        TokenKind.String => $"'{token.Text}'",
        _ => $"'{token.Text}'",
    };

    private Token Peek(int ahead) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

    private Token Advance()
    {
        var token = Current;
        if (token.Kind != TokenKind.End)
        {
            _index++;
        }

        return token;
    }

    private bool Accept(TokenKind kind)
    {
        if (Current.Kind != kind)
        {
            return false;
        }

        Advance();
        return true;
    }

    private bool Expect(TokenKind kind, string what)
    {
        if (Accept(kind))
        {
            return true;
        }

        Error(Current.Span, $"expected {what}, found {Describe(Current)}");
        return false;
    }

    /// <summary>Steps over a bad token so parsing can go on, but never over a closing parenthesis that ends a call.</summary>
    private void SkipUnlessClosing()
    {
        // Operators stay: the enclosing operator loop consumes them, so "1 + * 2" reports only the missing operand.
        if (Current.Kind is not (TokenKind.End or TokenKind.RightParen or TokenKind.Comma or TokenKind.Plus or TokenKind.Minus
            or TokenKind.Star or TokenKind.Slash or TokenKind.Equal or TokenKind.NotEqual or TokenKind.Less or TokenKind.LessOrEqual
            or TokenKind.Greater or TokenKind.GreaterOrEqual) && !Current.IsKeyword("and") && !Current.IsKeyword("or"))
        {
            Advance();
        }
    }

    private void Error(SourceSpan span, string message)
    {
        // One complaint per spot: recovery often trips over the same token twice.
        if (span.Start == _lastErrorOffset || _errors.Count >= MaxErrors || _errors.Exists(e => e.Offset == span.Start))
        {
            return;
        }

        _lastErrorOffset = span.Start;
        _errors.Add(FormulaError.At(_source, span, message));
    }

    private sealed class TooDeepException : Exception;
}
