-- A minimal Neovim configuration that attaches `ward lsp` to .ward files,
-- with nothing but Neovim's own LSP client (0.7 and later). WARD_BIN names
-- the binary (default: ward on the PATH). editors/README.md shows the
-- nvim-lspconfig set-up for everyday use.
vim.cmd('autocmd BufRead,BufNewFile *.ward setfiletype ward')

vim.api.nvim_create_autocmd('FileType', {
  pattern = 'ward',
  callback = function(args)
    local root = vim.fn.getcwd()
    local id = vim.lsp.start_client({
      name = 'ward',
      cmd = { os.getenv('WARD_BIN') or 'ward', 'lsp' },
      root_dir = root,
    })
    vim.lsp.buf_attach_client(args.buf, id)
  end,
})

-- Waits for the server's diagnostics on the current buffer, writes them to
-- $OUT (one `line:col code message` per line, 1-based), and quits.
function WardReport()
  local out = os.getenv('OUT')
  local ok = vim.wait(20000, function()
    return #vim.diagnostic.get(0) > 0
  end, 50)
  local lines = {}
  if not ok then
    table.insert(lines, 'timeout: no diagnostics')
  end
  for _, d in ipairs(vim.diagnostic.get(0)) do
    table.insert(lines, string.format('%d:%d %s %s', d.lnum + 1, d.col + 1, d.code or '', (d.message:gsub('\n.*', ''))))
  end
  vim.fn.writefile(lines, out)
  vim.cmd('qa!')
end
