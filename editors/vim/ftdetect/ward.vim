" Ward detection rules
autocmd BufNewFile,BufRead *.ward setfiletype ward
