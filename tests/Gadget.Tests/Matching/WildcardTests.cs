using System.Diagnostics;
using Gadget.Agent.Gadgets;
using Gadget.Agent.Gadgets.Dns;
using Gadget.Agent.Matching;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Matching;

/// <summary>Path and DNS name patterns: PowerShell's wildcards, matched in time linear in the text.</summary>
public sealed class WildcardTests
{
    [Theory]
    [InlineData("/etc/hosts", "/etc/hosts", true)]
    [InlineData("/etc/hosts", "/etc/hostsx", false)]
    [InlineData("/etc/*", "/etc/ssl/certs/x.pem", true)]
    [InlineData("/etc/*.conf", "/etc/resolv.conf", true)]
    [InlineData("/etc/*.conf", "/etc/resolv.confx", false)]
    [InlineData("/etc/host?", "/etc/hosts", true)]
    [InlineData("/etc/host?", "/etc/host", false)]
    [InlineData("/tmp/[ab]*", "/tmp/b1", true)]
    [InlineData("/tmp/[ab]*", "/tmp/c1", false)]
    [InlineData("/tmp/[a-c]x", "/tmp/bx", true)]
    [InlineData("/tmp/[a-c]x", "/tmp/Bx", false)]
    [InlineData("/tmp/a`[1`]", "/tmp/a[1]", true)]
    [InlineData("/tmp/a`*", "/tmp/ab", false)]
    [InlineData("/tmp/a`*", "/tmp/a*", true)]
    [InlineData("/tmp/*/x", "/tmp//x", true)]
    [InlineData("/tmp/x/*a*a*a*a*a*c", "/tmp/x/aaaaaaaaaaaac", true)]
    [InlineData("/tmp/x/*a*a*a*a*a*c", "/tmp/x/aaaaaaaaaaaa", false)]
    [InlineData("/tmp/**", "/tmp/", true)]
    public void PathPatternsMatchLikePowerShellWildcards(string pattern, string path, bool expected)
        => Assert.Equal(expected, PathPattern.FromRequest(Request(OpenGadget.PathParameter, pattern))!.Matches(path));

    [Theory]
    [InlineData("/etc/hosts", "/etc/hosts", false)]
    [InlineData("/etc/*.conf", "/etc/", true)]
    [InlineData("/tmp/a`[1`]", "/tmp/a", true)]
    [InlineData("/tmp/[ab]", "/tmp/", true)]
    public void TheKernelChecksTheLiteralPrefix(string pattern, string prefix, bool hasWildcards)
    {
        PathPattern path = PathPattern.FromRequest(Request(OpenGadget.PathParameter, pattern))!;
        Assert.Equal(prefix, path.KernelPrefix);
        Assert.Equal(hasWildcards, path.HasWildcards);
    }

    [Theory]
    [InlineData("[", "no ']' closes")]
    [InlineData("/tmp/[abc", "no ']' closes")]
    [InlineData("/tmp/x[]", "empty")]
    [InlineData("/tmp/x`", "backtick")]
    public void ABrokenPathPatternIsRefusedWithItsOwnId(string pattern, string reason)
    {
        var exception = Assert.Throws<GadgetRequestException>(() => PathPattern.FromRequest(Request(OpenGadget.PathParameter, "/" + pattern.TrimStart('/'))));
        Assert.Equal(PathPattern.InvalidPatternId, exception.ErrorId);
        Assert.Contains(reason, exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("^", exception.Message, StringComparison.Ordinal); // no internal regular expression
    }

    [Fact]
    public void ABrokenNamePatternIsRefusedWithItsOwnId()
    {
        var exception = Assert.Throws<GadgetRequestException>(() => new NamePattern("[example.com"));
        Assert.Equal(NamePattern.InvalidPatternId, exception.ErrorId);
    }

    [Theory]
    [InlineData("/tmp/x/*a*a*a*a*a*c", 'a', "/tmp/x/")]
    [InlineData("/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", 'a', "/")]
    [InlineData("/?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*x", 'y', "/")]
    public void AHostileNameTakesLinearTime(string pattern, char filler, string prefix)
    {
        PathPattern path = PathPattern.FromRequest(Request(OpenGadget.PathParameter, pattern))!;
        var clock = Stopwatch.StartNew();
        for (int length = 200; length <= 64_000; length *= 2)
        {
            Assert.False(path.Matches(prefix + new string(filler, length)));
        }

        // A backtracking matcher takes minutes here (the regular expression before it: 45 s and more at 200 characters).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
    }

    [Fact]
    public void AHostileDnsNameTakesLinearTimeAndIsStillMatchedWhole()
    {
        var pattern = new NamePattern("*o*o*o*o*o*o*o*o*o*o*x");
        string longName = string.Join('.', Enumerable.Repeat(new string('o', 63), 4)) + ".";
        var clock = Stopwatch.StartNew();
        Assert.False(pattern.IsMatch(longName));
        Assert.True(pattern.IsMatch(longName[..^1] + "x."));
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(200), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("*", "", true)]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("a*", "A", false)]
    [InlineData("[`]]", "]", true)]
    [InlineData("[z-a]", "m", true)]
    [InlineData("*ab", "aab", true)]
    [InlineData("a*b*c", "abcbc", true)]
    [InlineData("a*b*c", "acb", false)]
    public void MatchesAsAReferenceBacktrackerWould(string pattern, string text, bool expected)
    {
        Assert.True(Wildcard.TryParse(pattern, ignoreCase: false, out Wildcard? wildcard, out _));
        Assert.Equal(expected, wildcard!.IsMatch(text));
    }

    private static TraceRequest Request(string name, string value)
    {
        var request = new TraceRequest();
        request.Parameters[name] = value;
        return request;
    }
}
