pub mod wbxml;
