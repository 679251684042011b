using Xunit;

namespace Gadget.Tests.Client;

/// <summary>An argument vector prints as a command line a person could paste back into a shell.</summary>
public sealed class ArgumentListTests
{
    [Theory]
    [InlineData(new[] { "ls", "-la", "/tmp" }, "ls -la /tmp")]
    [InlineData(new[] { "sh", "-c", "echo hi" }, "sh -c 'echo hi'")]
    [InlineData(new[] { "echo", "it's" }, "echo 'it''s'")]
    [InlineData(new[] { "echo", "say \"hi\"" }, "echo 'say \"hi\"'")]
    [InlineData(new[] { "printf", "a\tb" }, "printf 'a\tb'")]
    [InlineData(new[] { "test", "", "x" }, "test '' x")]
    [InlineData(new string[0], "")]
    public void PrintsAsACommandLine(string[] arguments, string expected)
        => Assert.Equal(expected, new ArgumentList(arguments).ToString());

    [Fact]
    public void StaysAListOfTheOriginalArguments()
    {
        var list = new ArgumentList(new List<string> { "sh", "-c", "echo hi" });

        Assert.Equal(3, list.Count);
        Assert.Equal("echo hi", list[2]);
        Assert.Contains("-c", list);
    }
}
