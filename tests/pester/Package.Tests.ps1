#Requires -Version 7.6
# The module as a user gets it: published to a repository with PSResourceGet, installed from there
# with Install-PSResource in a fresh pwsh, and used from the installed copy.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:Scratch = New-TestDirectory 'gadget-package'
    $script:Repository = Join-Path $Scratch 'repository'
    New-Item $Repository -ItemType Directory | Out-Null
    # A home of its own: PSResourceGet keeps its repositories under XDG_DATA_HOME, installs
    # CurrentUser modules under HOME and writes a NuGet.Config under ~/.config, and pwsh looks for
    # modules under XDG_DATA_HOME. All of them point into the scratch directory, and the folders
    # must exist: .NET ignores a missing one, and the files then land in the current directory.
    $script:UserHome = Join-Path $Scratch 'home'
    New-Item (Join-Path $UserHome '.local/share'), (Join-Path $UserHome '.config') -ItemType Directory | Out-Null
    $script:Saved = @{}
    foreach ($name in 'HOME', 'XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'GADGET_AGENT_PATH', 'GADGET_AGENT_SOCKET') { $Saved[$name] = [Environment]::GetEnvironmentVariable($name) }

    function Invoke-AsUser {
        # A fresh pwsh whose home (repositories, CurrentUser modules) is the scratch one, with no
        # GADGET_AGENT_PATH: the installed module finds its own agent.
        param([string] $Command, [timespan] $Timeout = '00:02:00')
        $env:HOME = $UserHome
        $env:XDG_DATA_HOME = Join-Path $UserHome '.local/share'
        $env:XDG_CONFIG_HOME = Join-Path $UserHome '.config'
        $env:GADGET_AGENT_PATH = $null
        # Nothing listens here, so -Local starts the installed copy's agent.
        $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
        try { Invoke-FreshPwsh -Command $Command -Timeout $Timeout }
        finally { foreach ($name in $Saved.Keys) { [Environment]::SetEnvironmentVariable($name, $Saved[$name]) } }
    }

    $install = Invoke-AsUser @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name GadgetTest -Uri '$Repository' -Trusted
Publish-PSResource -Path '$ModulePath' -Repository GadgetTest
Install-PSResource -Name Gadget -Repository GadgetTest -Scope CurrentUser -TrustRepository
`$installed = Get-InstalledPSResource -Name Gadget
[pscustomobject]@{ Version = "`$(`$installed.Version)"; Location = `$installed.InstalledLocation } | ConvertTo-Json -Compress
"@
    $script:InstallOutput = $install
    $script:Installed = if ($install.ExitCode -eq 0) { $install.Output | ConvertFrom-Json } else { $null }
    $script:InstalledBase = if ($Installed) { Join-Path $Installed.Location "Gadget/$($Installed.Version)" } else { $null }
}

AfterAll {
    foreach ($name in $Saved.Keys) { [Environment]::SetEnvironmentVariable($name, $Saved[$name]) }
    Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore
}

Describe 'A gallery install' {
    It 'publishes to a local repository and installs from it with Install-PSResource' {
        $InstallOutput.ExitCode | Should -Be 0 -Because ($InstallOutput.Errors -replace '\e\[[0-9;]*m')
        $Installed.Location | Should -BeLike "$Scratch/*" -Because 'the install must not touch the user''s own modules'
        $Installed.Version | Should -Be (Import-PowerShellDataFile (Join-Path $ModulePath 'Gadget.psd1')).ModuleVersion
        Join-Path $InstalledBase 'Gadget.psd1' | Should -Exist
        Join-Path $InstalledBase 'agent/gadget-agent' | Should -Exist
        @(Get-ChildItem $Repository -Filter 'Gadget.*.nupkg').Count | Should -Be 1
        foreach ($stray in 'PSResourceGet', 'NuGet') { Join-Path $PWD $stray | Should -Not -Exist -Because 'nothing may land in the current directory' }
    }

    It 'loses the agent''s execute bit on the way, as every nupkg does' {
        (Get-Item (Join-Path $InstalledBase 'agent/gadget-agent')).UnixFileMode.HasFlag([IO.UnixFileMode]::UserExecute) |
            Should -BeFalse -Because 'otherwise the next test proves nothing about restoring it'
    }

    It 'imports by name, and traces from the installed copy, restoring the execute bit' -Skip:$SkipKernel {
        $marker = New-Marker
        $run = Invoke-AsUser @"
`$ErrorActionPreference = 'Stop'
Import-Module Gadget
`$activity = Start-ThreadJob { param(`$m) for (`$i = 0; `$i -lt 200; `$i++) { & /bin/true `$m; Start-Sleep -Milliseconds 100 } } -ArgumentList '$marker'
try {
    `$event = Trace-GadgetExec -Local -Comm true -Duration 30 | Where-Object { `$_.Args -contains '$marker' } | Select-Object -First 1
}
finally { `$activity | Stop-Job -PassThru | Remove-Job }
[pscustomobject]@{ ModuleBase = (Get-Module Gadget).ModuleBase; ExePath = `$event.ExePath; Type = `$event.GetType().FullName } | ConvertTo-Json -Compress
"@
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace '\e\[[0-9;]*m')
        $result = $run.Output | ConvertFrom-Json
        $result.ModuleBase | Should -BeExactly $InstalledBase
        $result.ExePath | Should -BeExactly '/bin/true'
        $result.Type | Should -BeExactly 'Gadget.ExecEvent'
        (Get-Item (Join-Path $InstalledBase 'agent/gadget-agent')).UnixFileMode.HasFlag([IO.UnixFileMode]::UserExecute) | Should -BeTrue
    }

    It 'reports an agent that cannot start as AgentStartFailed, with its path and the reason' -Skip:(-not [Environment]::IsPrivilegedProcess) {
        $agent = Join-Path $Scratch 'not-an-agent'
        Set-Content $agent 'this is text, not a program'
        & chmod 0755 $agent
        $run = Invoke-AsUser @"
`$env:GADGET_AGENT_PATH = '$agent'
Import-Module Gadget
try { Get-GadgetVersion -Local -ErrorAction Stop; 'no error' }
catch { [pscustomobject]@{ Id = `$_.FullyQualifiedErrorId; Category = "`$(`$_.CategoryInfo.Category)"; Message = `$_.Exception.Message } | ConvertTo-Json -Compress }
"@
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace '\e\[[0-9;]*m')
        $result = $run.Output | ConvertFrom-Json
        $result.Id | Should -BeExactly 'AgentStartFailed,Gadget.Commands.GetGadgetVersionCommand'
        $result.Message | Should -BeLike "*$agent*"
        $result.Message | Should -Match 'Exec format error|could not be started'
    }
}
