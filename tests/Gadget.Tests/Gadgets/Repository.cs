namespace Gadget.Tests.Gadgets;

/// <summary>Where the repository is, found from the test assembly's directory.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Gadget.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Gadget.sln above {AppContext.BaseDirectory}.");
    }
}
