// Tailwind CSS v4 runs as one PostCSS plugin; app/globals.css holds the tokens (@theme).
const config = {
  plugins: { "@tailwindcss/postcss": {} },
};

export default config;
